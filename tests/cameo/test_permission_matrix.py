"""The whole permission matrix, enumerated and checked against every form of
the consent rule.

policy (4) x relationship (self, approved, mutual, follower only, stranger)
x blocked x owner age (adult, teen) x requester age (adult, teen).

The rule "may requester R use cameo C" exists in four forms, and the one
hand-written table below is run against each of them, cell by cell:
  1. `policy.decide`, the pure reference, on facts built from the cell;
  2. the portable (SQLAlchemy) read, `consent.ConsentChecker.read`;
  3. the PostgreSQL fast path, `fastpath.FACTS_SQL` through `PgConsentReader`
     (all cells in one batched statement, and again through CheckUse);
  4. `consent.usable_filter` through ListCameos(usable_by_caller): a cameo is
     listed exactly when the table says "allowed".

The expectation table is written out by hand, not derived from the service's
rule. Teen owners here have a guardian cap of "everyone", so every policy can
be chosen and the teen-protection rule itself is what is tested (the cap is
tested in test_cameo.py, and below for a policy stored above the cap). For
"self" the requester is the owner: their age is the owner's, and "blocked"
means the owner tried to block themselves, which is refused, so the answer is
still "own cameo" (the pure form is given blocked=True there: the owner check
comes first).
"""

import grpc
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.common.v1 import common_pb2 as common
from kinora.runtime.db import transaction
from services.cameo import models as m
from services.cameo.consent import ConsentChecker
from services.cameo.fastpath import PgConsentReader
from services.cameo.policy import UseFacts, decide

POLICIES = [
    common.CAMEO_POLICY_ONLY_ME,
    common.CAMEO_POLICY_APPROVED,
    common.CAMEO_POLICY_MUTUALS,
    common.CAMEO_POLICY_EVERYONE,
]

# Columns: only me | approved | mutuals | everyone.
# OWN = allowed (own cameo), APP = allowed (approved), MUT = allowed (mutual),
# ALL = allowed (everyone), NP = not permitted, BLK = blocked, TEEN = teen protection.
# Row key: owner age, relationship, blocked, requester age ("-" = same person).
EXPECTED = """
owner  relationship  blocked requester | only_me approved mutuals everyone
adult  self          no      -         | OWN     OWN      OWN     OWN
adult  self          yes     -         | OWN     OWN      OWN     OWN
adult  approved      no      adult     | NP      APP      APP     APP
adult  approved      no      teen      | NP      APP      APP     APP
adult  approved      yes     adult     | BLK     BLK      BLK     BLK
adult  approved      yes     teen      | BLK     BLK      BLK     BLK
adult  mutual        no      adult     | NP      NP       MUT     MUT
adult  mutual        no      teen      | NP      NP       MUT     MUT
adult  mutual        yes     adult     | BLK     BLK      BLK     BLK
adult  mutual        yes     teen      | BLK     BLK      BLK     BLK
adult  follower      no      adult     | NP      NP       NP      ALL
adult  follower      no      teen      | NP      NP       NP      ALL
adult  follower      yes     adult     | BLK     BLK      BLK     BLK
adult  follower      yes     teen      | BLK     BLK      BLK     BLK
adult  stranger      no      adult     | NP      NP       NP      ALL
adult  stranger      no      teen      | NP      NP       NP      ALL
adult  stranger      yes     adult     | BLK     BLK      BLK     BLK
adult  stranger      yes     teen      | BLK     BLK      BLK     BLK
teen   self          no      -         | OWN     OWN      OWN     OWN
teen   self          yes     -         | OWN     OWN      OWN     OWN
teen   approved      no      adult     | NP      APP      APP     APP
teen   approved      no      teen      | NP      APP      APP     APP
teen   approved      yes     adult     | BLK     BLK      BLK     BLK
teen   approved      yes     teen      | BLK     BLK      BLK     BLK
teen   mutual        no      adult     | NP      NP       MUT     MUT
teen   mutual        no      teen      | NP      NP       MUT     MUT
teen   mutual        yes     adult     | BLK     BLK      BLK     BLK
teen   mutual        yes     teen      | BLK     BLK      BLK     BLK
teen   follower      no      adult     | NP      NP       NP      TEEN
teen   follower      no      teen      | NP      NP       NP      ALL
teen   follower      yes     adult     | BLK     BLK      BLK     BLK
teen   follower      yes     teen      | BLK     BLK      BLK     BLK
teen   stranger      no      adult     | NP      NP       NP      TEEN
teen   stranger      no      teen      | NP      NP       NP      ALL
teen   stranger      yes     adult     | BLK     BLK      BLK     BLK
teen   stranger      yes     teen      | BLK     BLK      BLK     BLK
"""

CODES = {
    "OWN": (True, pb.DECISION_REASON_ALLOWED_OWNER),
    "APP": (True, pb.DECISION_REASON_ALLOWED_APPROVED),
    "MUT": (True, pb.DECISION_REASON_ALLOWED_MUTUAL),
    "ALL": (True, pb.DECISION_REASON_ALLOWED_EVERYONE),
    "NP": (False, pb.DECISION_REASON_NOT_PERMITTED),
    "BLK": (False, pb.DECISION_REASON_BLOCKED),
    "TEEN": (False, pb.DECISION_REASON_TEEN_PROTECTION),
}


def cells():
    for line in EXPECTED.strip().splitlines()[1:]:
        key, answers = line.split("|")
        owner, relationship, blocked, requester = key.split()
        for policy, answer in zip(POLICIES, answers.split()):
            yield owner, relationship, blocked == "yes", requester, policy, answer


def test_table_covers_every_cell():
    keys = {(o, r, b, q, p) for o, r, b, q, p, _ in cells()}
    assert len(keys) == len(list(cells())) == 2 * (2 + 4 * 2 * 2) * 4  # 144 rows x policies (self has no age split)
    for owner in ("adult", "teen"):
        for rel in ("approved", "mutual", "follower", "stranger"):
            for blocked in (False, True):
                for req in ("adult", "teen"):
                    for p in POLICIES:
                        assert (owner, rel, blocked, req, p) in keys


def test_reference_rule_matches_table():
    """Form 1: the pure rule, on facts built straight from each cell (no database)."""
    for owner_age, relationship, blocked, requester_age, policy, answer in cells():
        self_use = relationship == "self"
        verdict = decide(
            UseFacts(
                owner_handle="owner",
                policy=policy,
                max_policy=common.CAMEO_POLICY_EVERYONE,
                owner_teen=owner_age == "teen",
                active=True,
                verified=True,
                requester_is_owner=self_use,
                blocked=blocked,
                approved=relationship == "approved",
                mutual=relationship == "mutual",
                requester_teen=(owner_age if self_use else requester_age) == "teen",
            )
        )
        cell = (owner_age, relationship, blocked, requester_age, common.CameoPolicy.Name(policy))
        assert (verdict.allowed, verdict.reason) == CODES[answer], cell
        assert verdict.message


async def _relate(stub, world, cameo, owner, relationship, blocked, requester_age, name):
    """The requester for one cell, with the relationship made the way users make it."""
    me = world.as_user(owner)
    if relationship == "self":
        if blocked:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.BlockUser(pb.BlockUserRequest(cameo_id=cameo, user_id=owner), metadata=me)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        return owner
    requester = world.user(name, teen=requester_age == "teen")
    if relationship == "approved":
        await stub.Approve(pb.ApproveRequest(cameo_id=cameo, user_id=requester), metadata=me)
    if relationship in ("mutual", "follower"):
        world.follow(requester, owner)
    if relationship == "mutual":
        world.follow(owner, requester)
    if blocked:
        await stub.BlockUser(pb.BlockUserRequest(cameo_id=cameo, user_id=requester), metadata=me)
    return requester


async def _check_every_form(stub, world, pg_url, checks):
    """`checks`: (cell, requester, cameo, answer). Forms 2, 3 and 4, cell by cell."""
    fast = PgConsentReader(pg_url)
    try:  # form 3: every cell in ONE batched statement (the coalescing reader's shape)
        batched = fast.read_many([(requester, [cameo]) for _, requester, cameo, _ in checks])
    finally:
        fast.close()
    for (cell, requester, cameo, answer), (fast_decisions, _) in zip(checks, batched):
        expected = CODES[answer]
        reply = await stub.CheckUse(
            pb.CheckUseRequest(requester_user_id=requester, cameo_ids=[cameo], prompt="walking a dog in the park"),
            metadata=world.as_service("generator"),
        )
        d = reply.decisions[0]
        assert (d.allowed, d.reason) == expected, ("CheckUse", cell, d)
        assert reply.all_allowed == d.allowed
        assert d.message and d.revision > 0
        f = fast_decisions[0]
        assert (f.allowed, f.reason, f.revision) == (*expected, d.revision), ("FACTS_SQL", cell, f)
        with Session(world.engine) as s:  # form 2
            portable = ConsentChecker(None).read(s, requester, [cameo])[0][0]
        assert (portable.allowed, portable.reason, portable.revision) == (*expected, d.revision), ("ORM", cell)
        assert portable.message == f.message == d.message, cell
        listed = await stub.ListCameos(
            pb.ListCameosRequest(usable_by_caller=True, page=common.PageRequest(page_size=200)),
            metadata=world.as_user(requester),
        )  # form 4
        assert (cameo in {c.id for c in listed.cameos}) == expected[0], ("usable_filter", cell)


async def test_permission_matrix(replica, world, pg_url):
    stub = replica.stub
    owners = {}
    for owner_age in ("adult", "teen"):
        for policy in POLICIES:
            teen = owner_age == "teen"
            uid = world.user(f"o_{owner_age}_{policy}", teen=teen)
            if teen:
                world.guardian_cap(uid, common.CAMEO_POLICY_EVERYONE)
            cameo = world.verify(uid, teen=teen)
            await stub.SetPolicy(pb.SetPolicyRequest(cameo_id=cameo, policy=policy), metadata=world.as_user(uid))
            owners[(owner_age, policy)] = (uid, cameo)

    checks = []
    for owner_age, relationship, blocked, requester_age, policy, answer in cells():
        owner, cameo = owners[(owner_age, policy)]
        requester = await _relate(stub, world, cameo, owner, relationship, blocked, requester_age, f"r{len(checks)}")
        cell = (owner_age, relationship, blocked, requester_age, common.CameoPolicy.Name(policy))
        checks.append((cell, requester, cameo, answer))
    assert len(checks) == 144
    await _check_every_form(stub, world, pg_url, checks)


# A teen's cameo whose stored policy ("everyone") is more open than the guardian's
# cap ("mutuals"), as a row written before the cap was lowered may be. Every form
# reads the policy as the cap: approved people and mutuals, nobody else.
# Row key: relationship, requester age.
STALE = """
approved  adult | APP
approved  teen  | APP
mutual    adult | MUT
mutual    teen  | MUT
follower  adult | NP
follower  teen  | NP
stranger  adult | NP
stranger  teen  | NP
"""


async def test_policy_stored_above_the_cap_is_read_as_the_cap(replica, world, pg_url):
    stub = replica.stub
    owner = world.user("stale_teen", teen=True)
    world.guardian_cap(owner, common.CAMEO_POLICY_MUTUALS)
    cameo = world.verify(owner, teen=True)
    with transaction(world.sessions) as s:
        s.execute(
            update(m.cameos)
            .where(m.cameos.c.id == cameo)
            .values(
                policy=common.CAMEO_POLICY_EVERYONE,
                max_policy=common.CAMEO_POLICY_MUTUALS,
                revision=m.cameos.c.revision + 1,
            )
        )
    checks = []
    for line in STALE.strip().splitlines():
        key, answer = line.split("|")
        relationship, requester_age = key.split()
        requester = await _relate(stub, world, cameo, owner, relationship, False, requester_age, f"s{len(checks)}")
        checks.append(((relationship, requester_age), requester, cameo, answer.strip()))
        facts = UseFacts(
            owner_handle="stale_teen",
            policy=common.CAMEO_POLICY_EVERYONE,
            max_policy=common.CAMEO_POLICY_MUTUALS,
            owner_teen=True,
            active=True,
            verified=True,
            requester_is_owner=False,
            blocked=False,
            approved=relationship == "approved",
            mutual=relationship == "mutual",
            requester_teen=requester_age == "teen",
        )
        assert (decide(facts).allowed, decide(facts).reason) == CODES[answer.strip()], key
    await _check_every_form(stub, world, pg_url, checks)


async def test_every_read_gives_restrictions_in_one_order(replica, world, pg_url):
    """Restrictions written in the same instant: the ORM read, FACTS_SQL and
    ListRestrictions all give them in (created_at, id) order."""
    stub = replica.stub
    owner, user = world.user("strict_owner"), world.user("user_of_strict")
    cameo = world.verify(owner)
    me = world.as_user(owner)
    await stub.SetPolicy(pb.SetPolicyRequest(cameo_id=cameo, policy=common.CAMEO_POLICY_EVERYONE), metadata=me)
    for text in ("no horror", "no politics", "no violence", "no alcohol"):
        await stub.AddRestriction(pb.AddRestrictionRequest(cameo_id=cameo, text=text), metadata=me)
    with transaction(world.sessions) as s:
        s.execute(
            update(m.restrictions)
            .where(m.restrictions.c.cameo_id == cameo)
            .values(created_at=select(func.min(m.restrictions.c.created_at)).scalar_subquery())
        )
        expected = [
            tuple(r)
            for r in s.execute(
                select(m.restrictions.c.id, m.restrictions.c.text)
                .where(m.restrictions.c.cameo_id == cameo)
                .order_by(m.restrictions.c.id)
            )
        ]
    with Session(world.engine) as s:
        portable = ConsentChecker(None).read(s, user, [cameo])[1][cameo]
    fast = PgConsentReader(pg_url)
    try:
        batched = fast.read_many([(user, [cameo])])[0][1][cameo]
    finally:
        fast.close()
    listed = (await stub.ListRestrictions(pb.ListRestrictionsRequest(cameo_id=cameo), metadata=me)).restrictions
    assert portable == batched == [(r.id, r.text) for r in listed] == expected
