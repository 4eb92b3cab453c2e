"""GetFeed's cost does not grow with what the viewer was already served: the candidate
statement probes `served` once per candidate (its key), never reads a viewer's whole history,
so two viewers with the same candidates and histories of 0 and 4,000 items read about the same
number of buffers, and at most one row of `served` per candidate."""

from __future__ import annotations

import json
import re

from feed_harness import running_feed
from sqlalchemy import text

from services.feed.queries import CANDIDATES_SQL

CANDIDATES = 300


def _generic_explain(s, viewer: str, held: list[str], looked_up: list[str]) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of `CANDIDATES_SQL` as GetFeed runs it: a generic plan (see
    `VIEWER_STATE_SQL`), half the candidates' facts held in memory, half looked up."""
    names: list[str] = []

    def param(match: re.Match) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    conn = s.connection().connection.driver_connection
    conn.execute("SET plan_cache_mode = force_generic_plan")
    conn.execute("PREPARE candidates AS " + re.sub(r"%\((\w+)\)s", param, CANDIDATES_SQL))
    values = dict(viewer=viewer, personal=True, lim=CANDIDATES, held=",".join(held), following=",".join(looked_up),
                  mutuals="", trending="", nearest="")
    literal = ", ".join(f"'{values[n]}'" if isinstance(values[n], str) else str(values[n]) for n in names)
    plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE candidates({literal})").fetchone()[0]
    conn.execute("DEALLOCATE candidates")
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]


def _served_rows_read(node: dict) -> int:
    """Rows the plan read from `served` (per loop times loops), over every node."""
    own = node["Actual Rows"] * node["Actual Loops"] if node.get("Relation Name") == "served" else 0
    return own + sum(_served_rows_read(child) for child in node.get("Plans", ()))


async def test_candidate_cost_does_not_grow_with_history(pg_url):
    async with running_feed(pg_url) as h:
        author, fresh, veteran = h.user("author"), h.user("fresh"), h.user("veteran")
        template = await h.post(author, "a walk in the park")
        with h.ctx.sessions.begin() as s:
            columns = [c[0] for c in s.execute(text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'posts'"))]
            copied = ", ".join("id" if c == "id" else "generation_id" if c == "generation_id" else c
                               for c in columns)
            made = ", ".join("md5('p' || n)::uuid::text" if c == "id" else "'gen_' || n" if c == "generation_id"
                             else c for c in columns)
            s.execute(text(f"INSERT INTO posts ({copied}) SELECT {made} FROM posts, generate_series(1, 6000) AS n "
                           "WHERE id = :template"), dict(template=template.id))
            ids = list(s.execute(text("SELECT id FROM posts WHERE id <> :t ORDER BY id"), dict(t=template.id))
                       .scalars())
            candidates, history = ids[:CANDIDATES], ids[CANDIDATES:CANDIDATES + 4000]
            # The veteran was served 4,000 other posts a week ago, and 20 of today's candidates.
            s.execute(text("INSERT INTO served (user_id, post_id, served_at) SELECT :v, id, now() - interval '7 days' "
                           "FROM unnest(CAST(:ids AS text[])) AS id"), dict(v=veteran, ids=history + candidates[:20]))
        with h.ctx.sessions.begin() as s:
            s.execute(text("ANALYZE served"))
        held, looked_up = candidates[::2], candidates[1::2]
        with h.ctx.sessions.begin() as s:
            _generic_explain(s, fresh, held, looked_up)  # caches warm alike for both
            plans = {who: _generic_explain(s, who, held, looked_up) for who in (fresh, veteran)}
    buffers = {who: p["Plan"]["Shared Hit Blocks"] + p["Plan"]["Shared Read Blocks"] for who, p in plans.items()}
    served_rows = {who: _served_rows_read(p["Plan"]) for who, p in plans.items()}
    # A probe per candidate: a served row comes back only for a candidate already served.
    assert served_rows[fresh] == 0 and served_rows[veteran] <= CANDIDATES, served_rows
    # 4,000 items of history cost at most a few buffers more (a deeper index), nowhere near one per item.
    assert buffers[veteran] <= buffers[fresh] * 1.15 + 50, buffers
