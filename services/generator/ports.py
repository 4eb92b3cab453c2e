"""What the generations domain needs from outside, filled in by the service layer:
billing's reservations, cameo consent and feed visibility (over gRPC, remote.py),
and the prompt moderator (kinora/moderation/prompts.py)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from kinora.moderation.prompts import ModerationResult


@dataclass(frozen=True)
class Reservation:
    id: str
    tier: int  # kinora.common.v1.Tier
    expires_at: datetime | None = None  # None: the hold never lapses


class Billing(Protocol):
    """Reserve before queueing, capture on completion, release otherwise.
    Every call is idempotent by generation id. Refusals raise KinoraError."""

    async def reserve(
        self, generation_id: str, user_id: str, model: str, seconds: int, size: str, quote_id: str = ""
    ) -> Reservation: ...
    async def extend(self, generation_id: str) -> datetime | None:
        """Renew a held reservation; returns its new expiry (None: never).
        Raises FailedPrecondition or NotFound when the hold is gone: billing
        never revives it."""
        ...

    async def capture(self, generation_id: str) -> None: ...
    async def release(self, generation_id: str, reason: str) -> None: ...


class ConsentChecker(Protocol):
    """Fully consistent cameo consent. Raises PermissionDenied (code
    "consent_denied") naming the cameo and the reason when any use is refused;
    for cameos in `unnamed` (found by face in an input, not named by the
    caller) the reason names the policy, never the person
    ("likeness_consent_denied")."""

    async def check(
        self,
        requester_user_id: str,
        cameo_ids: list[str],
        prompt: str,
        generation_id: str,
        unnamed: frozenset[str] = frozenset(),
    ) -> None: ...
    async def describe(self, cameo_ids: list[str]) -> list[Any]:
        """The cameos as the model sees them (kinora.models.contract.Cameo:
        name, face crops, voice profile)."""
        ...


class FeedVisibility(Protocol):
    async def can_view(self, user_id: str, generation_id: str) -> bool:
        """Whether the person may see this clip in the feed."""
        ...


class PromptModerator(Protocol):
    def check(self, prompt: str, has_cameo: bool = False, cameo_names: Collection[str] = ()) -> ModerationResult: ...
