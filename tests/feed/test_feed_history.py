"""GetFeed's cost does not grow with what the viewer was already served: the candidate
statement probes `served` once per candidate (its key), never reads a viewer's whole history nor
the whole table, even with a generic plan made while `served` was empty: two viewers with the
same candidates and histories of 0 and 4,000 items read about the same number of buffers, and at
most one row of `served` per candidate. The page statement (all a page from a kept ranking asks
of PostgreSQL besides the viewer's state) probes `served` once per page item: O(page)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date

import psycopg
from feed_harness import running_feed
from sqlalchemy import text

from services.feed.common import utcnow
from services.feed.queries import CANDIDATES_SQL, PAGE_SQL, VIEWER_STATE_SQL

CANDIDATES = 300
PAGE = 10


class CandidateStatement:
    """`CANDIDATES_SQL` (and `PAGE_SQL`) run as GetFeed runs them: on one connection, in
    transactions that begin with `VIEWER_STATE_SQL` (which sets the transaction's planner
    settings), prepared once, so their generic plans are made at the first execution and kept.
    Half the candidates' facts held in memory, half looked up. Each explained transaction is
    rolled back (the page's writes too)."""

    def __init__(self, pg_url: str):
        self.conn = psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://", 1))
        self.names: dict[str, list[str]] = {}
        for name, sql in (("candidates", CANDIDATES_SQL), ("page", PAGE_SQL)):
            names = self.names[name] = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
            self.conn.execute(
                f"PREPARE {name} AS "
                + re.sub(r"%\((\w+)\)s", lambda match, names=names: f"${names.index(match.group(1)) + 1}", sql)
            )
        self.conn.commit()

    def explain(self, viewer: str, held: list[str], looked_up: list[str]) -> dict:
        return self._explain(
            "candidates",
            viewer,
            dict(
                viewer=viewer,
                personal=True,
                lim=CANDIDATES,
                held=",".join(held),
                following=",".join(looked_up),
                mutuals="",
                trending="",
                nearest="",
            ),
        )

    def explain_page(self, viewer: str, ids: list[str]) -> dict:
        return self._explain(
            "page",
            viewer,
            dict(
                viewer=viewer,
                ids=",".join(ids),
                now=str(utcnow()),
                day=str(date.today()),
                session=str(uuid.uuid4()),
                teen=False,
            ),
        )

    def _explain(self, name: str, viewer: str, values: dict) -> dict:
        try:
            self.conn.execute(VIEWER_STATE_SQL, dict(viewer=viewer, session=str(uuid.uuid4()), day=date.today()))
            literal = ", ".join(
                f"'{values[n]}'" if isinstance(values[n], str) else str(values[n]) for n in self.names[name]
            )
            plan = self.conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE {name}({literal})").fetchone()[0]
        finally:
            self.conn.rollback()
        return (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]


def _served_nodes(node: dict) -> list:
    own = (
        [(node["Node Type"], node.get("Index Name"), node.get("Index Cond"), node.get("Filter"), node["Actual Loops"])]
        if node.get("Relation Name") == "served"
        else []
    )
    return own + [n for child in node.get("Plans", ()) for n in _served_nodes(child)]


def _inserted(node: dict) -> int:
    """Rows the plan inserted into `served`."""
    own = node.get("Tuples Inserted", 0) if node.get("Relation Name") == "served" and "Operation" in node else 0
    return own + sum(_inserted(child) for child in node.get("Plans", ()))


def _served_rows_read(node: dict) -> int:
    """Rows the plan read from `served` (kept or filtered out, times loops), over every node."""
    own = 0
    if node.get("Relation Name") == "served":
        own = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
    return own + sum(_served_rows_read(child) for child in node.get("Plans", ()))


async def test_candidate_cost_does_not_grow_with_history(pg_url):
    async with running_feed(pg_url) as h:
        author, fresh, veteran = h.user("author"), h.user("fresh"), h.user("veteran")
        template = await h.post(author, "a walk in the park")
        with h.ctx.sessions.begin() as s:
            columns = [
                c[0]
                for c in s.execute(
                    text("SELECT column_name FROM information_schema.columns WHERE table_name = 'posts'")
                )
            ]
            made = ", ".join(
                "md5('p' || n)::uuid::text" if c == "id" else "'gen_' || n" if c == "generation_id" else c
                for c in columns
            )
            s.execute(
                text(
                    f"INSERT INTO posts ({', '.join(columns)}) SELECT {made} "
                    "FROM posts, generate_series(1, 6000) AS n WHERE id = :template"
                ),
                dict(template=template.id),
            )
            ids = list(
                s.execute(text("SELECT id FROM posts WHERE id <> :t ORDER BY id"), dict(t=template.id)).scalars()
            )
            s.execute(text("ANALYZE served"))  # empty, and known to be: as on a new install
        candidates, history = ids[:CANDIDATES], ids[CANDIDATES : CANDIDATES + 4000]
        held, looked_up = candidates[::2], candidates[1::2]
        statement = CandidateStatement(pg_url)
        try:
            statement.explain(fresh, held, looked_up)  # the generic plan, made while served is empty
            with h.ctx.sessions.begin() as s:
                # The veteran was served 4,000 other posts a week ago, and 20 of today's candidates;
                # others were served too (served grows with every viewer). No ANALYZE since.
                s.execute(
                    text(
                        "INSERT INTO served (user_id, post_id, served_at) SELECT :v, id, "
                        "now() - interval '7 days' FROM unnest(CAST(:ids AS text[])) AS id"
                    ),
                    dict(v=veteran, ids=history + candidates[:20]),
                )
                s.execute(
                    text(
                        "INSERT INTO served (user_id, post_id, served_at) SELECT 'someone-' || n, id, "
                        "now() FROM unnest(CAST(:ids AS text[])) AS id, generate_series(1, 5) AS n"
                    ),
                    dict(ids=history),
                )
            statement.explain(fresh, held, looked_up)  # caches warm alike for both
            plans = {who: statement.explain(who, held, looked_up) for who in (fresh, veteran)}
            # The page statement (also what a page from a kept ranking costs in PostgreSQL): a page of
            # posts new to both viewers, and one the veteran was already served (nothing recorded).
            page = candidates[20 : 20 + PAGE]
            for _ in range(2):
                pages = {who: statement.explain_page(who, page) for who in (fresh, veteran)}
            repeat = statement.explain_page(veteran, candidates[:PAGE])
        finally:
            statement.conn.close()
    page_buffers = {who: p["Shared Hit Blocks"] + p["Shared Read Blocks"] for who, p in pages.items()}
    # One probe of served per page item, and the page's inserts: O(page), not O(history).
    assert all(_served_rows_read(p) <= 2 * PAGE for p in (*pages.values(), repeat)), [
        _served_nodes(p) for p in (*pages.values(), repeat)
    ]
    assert page_buffers[veteran] <= page_buffers[fresh] * 1.15 + 20, page_buffers
    assert _inserted(repeat) == 0 and _inserted(pages[veteran]) == PAGE
    buffers = {who: p["Shared Hit Blocks"] + p["Shared Read Blocks"] for who, p in plans.items()}
    served_rows = {who: _served_rows_read(p) for who, p in plans.items()}
    # A probe per candidate: a served row is read only for a candidate already served, never the
    # viewer's history nor the table.
    assert served_rows[fresh] == 0 and served_rows[veteran] <= CANDIDATES, (served_rows, _served_nodes(plans[veteran]))
    # 4,000 items of history cost at most a few buffers more (a deeper index), nowhere near one per item.
    assert buffers[veteran] <= buffers[fresh] * 1.15 + 50, buffers
