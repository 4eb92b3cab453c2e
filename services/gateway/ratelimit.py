"""Token-bucket rate limits per user, per API key and per client address.

In-process buckets serve one replica (the local stack); with
KINORA_REDIS_URL the buckets live in Redis so every replica shares them. Both
answer the same question: may this call go now, and if not, in how many seconds?
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens per second
    burst: int


class MemoryLimiter:
    def __init__(self, max_keys: int = 100_000):
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._max_keys = max_keys

    async def acquire(self, key: str, limit: Limit) -> float:
        """0 when allowed, else the seconds to wait before retrying."""
        now = time.monotonic()
        tokens, at = self._buckets.pop(key, (float(limit.burst), now))
        tokens = min(float(limit.burst), tokens + (now - at) * limit.rate)
        if tokens >= 1.0:
            wait, tokens = 0.0, tokens - 1.0
        else:
            wait = (1.0 - tokens) / limit.rate if limit.rate > 0 else 3600.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)  # forget the least recently seen
        return wait

    async def close(self) -> None:
        pass


# Refill and take one token atomically; returns the wait in milliseconds.
_REDIS_BUCKET = """
local burst = tonumber(ARGV[1]); local rate = tonumber(ARGV[2]); local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(state[1]) or burst; local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else
  if rate > 0 then wait = (1 - tokens) / rate else wait = 3600 end end
redis.call('HSET', KEYS[1], 't', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / math.max(rate, 0.001)) + 60)
return math.ceil(wait * 1000)
"""


class RedisLimiter:
    def __init__(self, url: str):
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._script = self._redis.register_script(_REDIS_BUCKET)

    async def acquire(self, key: str, limit: Limit) -> float:
        # Redis server time keeps replicas with skewed clocks consistent.
        seconds, micros = await self._redis.time()
        wait_ms = await self._script(keys=[f"kinora:rl:{key}"], args=[limit.burst, limit.rate, seconds + micros / 1e6])
        return int(wait_ms) / 1000.0

    async def close(self) -> None:
        await self._redis.aclose()


def retry_after_header(wait_s: float) -> str:
    return str(max(1, math.ceil(wait_s)))


def make_limiter(redis_url: str | None):
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()
