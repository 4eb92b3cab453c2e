"""The consent rule, as one pure function: given the facts about a cameo and a
requester, may the requester use the cameo, and why (not). No I/O here; the
facts are read from PostgreSQL in one statement by `consent.ConsentChecker`
(and, batched, by `fastpath.FACTS_SQL`); `consent.usable_filter` is this rule
as a SQL condition for lists.

Policies are ordered (ONLY_ME < APPROVED < MUTUALS < EVERYONE) and each one
includes the people the more closed ones allow: "mutuals" also lets approved
people in, "everyone" lets everyone in.
"""

from __future__ import annotations

from dataclasses import dataclass

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.common.v1 import common_pb2 as common

ONLY_ME = common.CAMEO_POLICY_ONLY_ME
APPROVED = common.CAMEO_POLICY_APPROVED
MUTUALS = common.CAMEO_POLICY_MUTUALS
EVERYONE = common.CAMEO_POLICY_EVERYONE
POLICY_WORDS: dict[int, str] = {
    ONLY_ME: "only me",
    APPROVED: "people I approve",
    MUTUALS: "mutuals",
    EVERYONE: "everyone",
}

PERSON = pb.CAMEO_KIND_PERSON  # a verified person, one per user
CHARACTER = pb.CAMEO_KIND_CHARACTER  # an animal, object or drawing; same consent rule

ACTIVE = pb.CAMEO_STATUS_ACTIVE  # a cameo that is not active was deleted
DELETED = pb.CAMEO_STATUS_DELETED

TEEN = common.AGE_GROUP_TEEN
ADULT = common.AGE_GROUP_ADULT
# Most open policy a teen may choose until a guardian (or identity's safe
# defaults) says otherwise: people they know, never strangers.
TEEN_DEFAULT_MAX_POLICY = MUTUALS


def effective_max_policy(age_group: int, guardian_cap: int | None) -> int:
    if age_group != TEEN:
        return EVERYONE
    return guardian_cap if guardian_cap else TEEN_DEFAULT_MAX_POLICY


@dataclass(frozen=True)
class UseFacts:
    """What the check knows about one (cameo, requester) pair, read in one snapshot."""

    owner_handle: str
    policy: int
    max_policy: int
    owner_teen: bool
    active: bool
    verified: bool
    requester_is_owner: bool
    blocked: bool
    approved: bool
    mutual: bool
    requester_teen: bool


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: int  # pb.DecisionReason
    message: str


def decide(f: UseFacts) -> Verdict:
    """Policy, relationship, block and age rules (restrictions come after, on the prompt)."""
    who = f"@{f.owner_handle}"
    if not f.active:
        return Verdict(False, pb.DECISION_REASON_CAMEO_NOT_FOUND, f"{who}'s cameo was deleted and can't be used.")
    if not f.verified:
        return Verdict(
            False, pb.DECISION_REASON_NOT_VERIFIED, f"{who}'s cameo is not verified right now, so nobody can use it."
        )
    if f.requester_is_owner:
        return Verdict(True, pb.DECISION_REASON_ALLOWED_OWNER, "It's your own cameo.")
    if f.blocked:
        return Verdict(False, pb.DECISION_REASON_BLOCKED, f"{who} doesn't allow you to use their cameo.")
    # A teen's policy can never be more open than the guardian allows, even if
    # the stored policy predates a stricter cap.
    policy = min(f.policy, f.max_policy) if f.owner_teen else f.policy
    if policy >= APPROVED and f.approved:
        return Verdict(True, pb.DECISION_REASON_ALLOWED_APPROVED, f"{who} approved you.")
    if policy >= MUTUALS and f.mutual:
        return Verdict(True, pb.DECISION_REASON_ALLOWED_MUTUAL, f"You and {who} follow each other.")
    if policy >= EVERYONE:
        if f.owner_teen and not f.requester_teen:
            # Adults who are strangers to a teen never get a teen's likeness.
            return Verdict(
                False,
                pb.DECISION_REASON_TEEN_PROTECTION,
                f"{who} is a teen: only people they approve or follow back can use their cameo.",
            )
        return Verdict(True, pb.DECISION_REASON_ALLOWED_EVERYONE, f"{who} lets everyone use their cameo.")
    needs_by_policy: dict[int, str] = {
        ONLY_ME: "only they can use it",
        APPROVED: "only people they approve can use it; you can ask for approval",
        MUTUALS: "only people they approve or who follow each other with them can use it",
    }
    needs = needs_by_policy[policy]
    return Verdict(False, pb.DECISION_REASON_NOT_PERMITTED, f"{who}'s cameo isn't open to you: {needs}.")
