"""What the feed's domain needs from outside, filled in by the service layer:
the cameo consent re-check, text moderation and the sentence embedder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class ConsentResult:
    allowed: bool
    message: str = ""


class ConsentChecker(Protocol):
    """Re-checks that every cameo in a video may be published by `requester`."""

    async def check(
        self, requester_user_id: str, cameo_ids: Sequence[str], prompt: str, generation_id: str
    ) -> ConsentResult: ...


class TextModerator(Protocol):
    def refusal(self, text: str) -> str | None:
        """A reason a person can read when the text is refused, else None."""


Embedder = Callable[[list[str]], np.ndarray[Any, Any]]
