"""API keys traded for short-lived access tokens, and the tokens cached.

Only a miss costs identity a database lookup, so a miss first passes the caller's hook (the
gateway's per-client rate limit) and random keys cannot buy lookups faster than that. Misses for
one key arriving together share one exchange, and nothing is kept for a key once its exchange is
over unless it succeeded; successes live in a least-recently-used cache of bounded size. The raw
key is never kept, only its SHA-256.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

REFRESH_MARGIN_S = 30  # a token this close to expiry is traded again, so callers never get a dying one


@dataclass(frozen=True)
class Exchanged:
    token: str
    expires: float  # unix seconds
    api_key_id: str


class ApiKeyCache:
    def __init__(self, exchange: Callable[[str], Awaitable[Exchanged]], max_entries: int):
        self._exchange, self._max_entries = exchange, max_entries
        self._entries: OrderedDict[str, Exchanged] = OrderedDict()
        self._pending: dict[str, asyncio.Future] = {}

    def __len__(self) -> int:
        """Keys held: cached tokens plus exchanges under way."""
        return len(self._entries) + len(self._pending)

    async def get(self, secret: str, before_exchange: Callable[[], Awaitable[None]]) -> Exchanged:
        digest = hashlib.sha256(secret.encode()).hexdigest()
        hit = self._entries.get(digest)
        if hit and hit.expires - REFRESH_MARGIN_S > time.time():
            self._entries.move_to_end(digest)
            return hit
        pending = self._pending.get(digest)
        if pending is None:
            await before_exchange()  # may raise (rate limited): then nothing is asked or kept
            pending = self._pending.get(digest)  # another call may have started it meanwhile
        if pending is None:
            pending = asyncio.ensure_future(self._fill(digest, secret))
            self._pending[digest] = pending
            pending.add_done_callback(lambda done: self._settle(digest, done))
        # Shielded: a caller that goes away does not cancel the exchange the others wait on.
        return await asyncio.shield(pending)

    async def _fill(self, digest: str, secret: str) -> Exchanged:
        found = await self._exchange(secret)
        self._entries[digest] = found
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return found

    def _settle(self, digest: str, done: asyncio.Future) -> None:
        self._pending.pop(digest, None)
        if not done.cancelled():
            done.exception()  # marks a failure as seen even when every waiter has gone
