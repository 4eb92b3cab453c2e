"""PostgreSQL fast path for CheckUse: the whole consent read (cameo, block,
approval, both follow edges, requester age, restrictions) is ONE prepared
statement on a per-thread autocommit connection: one round trip, no BEGIN /
ROLLBACK / pool ping, no ORM. A single statement runs on one snapshot taken
when it starts, so it sees every change committed before the check began,
exactly like the portable path in `domain.ConsentChecker.read`.
"""

from __future__ import annotations

import threading
from collections import namedtuple

import psycopg
from sqlalchemy.engine import make_url

from kinora.cameo.v1 import cameo_pb2 as pb
from services.cameo.domain import ConsentChecker, Decision

FACTS_SQL = """
SELECT c.id, c.owner_user_id, c.owner_handle, c.policy, c.max_policy, c.owner_age_group, c.status, c.verified,
       c.revision, c.restriction_count,
       EXISTS (SELECT 1 FROM blocks b WHERE b.cameo_id = c.id AND b.user_id = %(r)s) AS blocked,
       EXISTS (SELECT 1 FROM approvals a WHERE a.cameo_id = c.id AND a.user_id = %(r)s
               AND a.status = {approved}) AS approved,
       EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = c.owner_user_id AND f.followee_id = %(r)s)
       AND EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = %(r)s AND f.followee_id = c.owner_user_id)
           AS mutual,
       (SELECT u.age_group FROM users u WHERE u.user_id = %(r)s) AS requester_age,
       CASE WHEN c.restriction_count > 0 THEN
           (SELECT array_agg(x.id ORDER BY x.created_at, x.id) FROM restrictions x WHERE x.cameo_id = c.id) END,
       CASE WHEN c.restriction_count > 0 THEN
           (SELECT array_agg(x.text ORDER BY x.created_at, x.id) FROM restrictions x WHERE x.cameo_id = c.id) END
FROM cameos c WHERE c.id = ANY(%(ids)s)
""".format(approved=pb.APPROVAL_STATUS_APPROVED)

Facts = namedtuple("Facts", "id owner_user_id owner_handle policy max_policy owner_age_group status verified revision "
                            "restriction_count blocked approved mutual requester_age restriction_ids restriction_texts")


class PgConsentReader:
    def __init__(self, database_url: str):
        self.dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._local = threading.local()
        self._all: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(self.dsn, autocommit=True)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def read(self, requester: str, ids: list[str]) -> tuple[list[Decision], dict[str, list]]:
        params = {"r": requester, "ids": ids}
        try:
            raw = self._connection().execute(FACTS_SQL, params, prepare=True).fetchall()
        except psycopg.OperationalError:
            self._local.conn = None  # the server went away: one retry on a fresh connection
            raw = self._connection().execute(FACTS_SQL, params, prepare=True).fetchall()
        rows = {r[0]: Facts(*r) for r in raw}
        decisions, to_match = ConsentChecker.decide_all(requester, ids, rows)
        texts = {cid: list(zip(rows[cid].restriction_ids, rows[cid].restriction_texts))
                 for cid in to_match if rows[cid].restriction_ids}
        return decisions, texts

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

