"""PostgreSQL fast path for CheckUse.

The whole consent read (cameo, cameo block, platform block, approval, both
follow edges, requester age, restrictions) is ONE prepared statement on a
per-thread autocommit connection (`kinora.runtime.pgfast`): one round trip, no BEGIN / ROLLBACK / pool
ping, no ORM. A single statement runs on one snapshot taken when it starts, so
it sees every change committed before it began, exactly like the portable
path in `consent.ConsentChecker.read`.

Under load, checks that arrive while earlier ones are still in the database
are coalesced into the next statement (a few in flight at a time, like group
commit). Coalescing never weakens consistency: a check is read by a statement
that starts after the check arrived, so it sees every change acknowledged
before the check was sent.
"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from concurrent.futures import Executor

from kinora.cameo.v1 import cameo_pb2 as pb
from kinora.runtime.pgfast import PgStatements
from services.cameo.consent import ConsentChecker, Decision

# One row per (requester, cameo) pair of the batch; q.i says which pair.
FACTS_SQL = f"""
SELECT q.i, c.id, c.owner_user_id, c.owner_handle, c.policy, c.max_policy, c.owner_age_group, c.status, c.verified,
       c.revision, c.restriction_count,
       EXISTS (SELECT 1 FROM blocks b WHERE b.cameo_id = c.id AND b.user_id = q.r)
       OR EXISTS (SELECT 1 FROM user_blocks ub WHERE ub.blocker_id = c.owner_user_id AND ub.blocked_id = q.r)
           AS blocked,
       EXISTS (SELECT 1 FROM approvals a WHERE a.cameo_id = c.id AND a.user_id = q.r
               AND a.status = {pb.APPROVAL_STATUS_APPROVED}) AS approved,
       EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = c.owner_user_id AND f.followee_id = q.r)
       AND EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = q.r AND f.followee_id = c.owner_user_id)
           AS mutual,
       (SELECT u.age_group FROM users u WHERE u.user_id = q.r) AS requester_age,
       CASE WHEN c.restriction_count > 0 THEN
           (SELECT array_agg(x.id ORDER BY x.created_at, x.id) FROM restrictions x WHERE x.cameo_id = c.id) END,
       CASE WHEN c.restriction_count > 0 THEN
           (SELECT array_agg(x.text ORDER BY x.created_at, x.id) FROM restrictions x WHERE x.cameo_id = c.id) END
FROM unnest(%(rs)s::text[], %(cs)s::text[]) WITH ORDINALITY AS q(r, cid, i)
JOIN cameos c ON c.id = q.cid
"""

Facts = namedtuple(
    "Facts",
    "id owner_user_id owner_handle policy max_policy owner_age_group status verified revision "
    "restriction_count blocked approved mutual requester_age restriction_ids restriction_texts",
)

Result = tuple[list[Decision], dict[str, list[tuple[str, str]]]]


class PgConsentReader:
    def __init__(self, database_url: str):
        self.statements = PgStatements(database_url)

    def read_many(self, checks: list[tuple[str, list[str]]]) -> list[Result]:
        """Decisions for several (requester, cameo ids) checks in one statement."""
        owners = [(k, cid) for k, (_, ids) in enumerate(checks) for cid in ids]
        params = {"rs": [checks[k][0] for k, _ in owners], "cs": [cid for _, cid in owners]}
        raw = self.statements.fetch(FACTS_SQL, params)
        rows: list[dict[str, Facts]] = [{} for _ in checks]
        for r in raw:
            rows[owners[r[0] - 1][0]][r[1]] = Facts(*r[1:])
        results: list[Result] = []
        for (requester, ids), found in zip(checks, rows):
            decisions, to_match = ConsentChecker.decide_all(requester, ids, found)
            texts = {
                cid: list(zip(found[cid].restriction_ids, found[cid].restriction_texts))
                for cid in to_match
                if found[cid].restriction_ids
            }
            results.append((decisions, texts))
        return results

    def close(self) -> None:
        self.statements.close()


class CoalescingReader:
    """At most `in_flight` statements run at once; checks arriving meanwhile
    wait for the next one. When the database keeps up, every check gets its
    own statement at once (no added latency)."""

    def __init__(self, reader: PgConsentReader, executor: Executor, in_flight: int, max_batch: int = 64):
        self.reader, self.executor = reader, executor
        self.in_flight, self.max_batch = in_flight, max_batch
        self._running = 0
        self._pending: list[tuple[str, list[str], asyncio.Future[Result]]] = []

    async def read(self, requester: str, ids: list[str]) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((requester, ids, future))
        if self._running < self.in_flight:
            self._start()
        return await future

    async def read_all(self, checks: list[tuple[str, list[str]]]) -> list[Result]:
        """Several checks queued at once (BatchCheckUse): they share the next
        statement (or the next few, past `max_batch`)."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Result]] = [loop.create_future() for _ in checks]
        self._pending.extend((requester, ids, future) for (requester, ids), future in zip(checks, futures))
        while self._pending and self._running < self.in_flight:
            self._start()
        return list(await asyncio.gather(*futures))

    def _start(self) -> None:
        batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        self._running += 1
        work = asyncio.get_running_loop().run_in_executor(
            self.executor, self.reader.read_many, [(r, ids) for r, ids, _ in batch]
        )
        work.add_done_callback(lambda done: self._finish(batch, done))

    def _finish(
        self, batch: list[tuple[str, list[str], asyncio.Future[Result]]], done: asyncio.Future[list[Result]]
    ) -> None:
        self._running -= 1
        error = done.exception()
        for k, (_, _, future) in enumerate(batch):
            if future.done():
                continue  # the caller went away
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(done.result()[k])
        if self._pending:
            self._start()
