"""The SQL of GetFeed's hot path, as psycopg statements run on the driver's cursor (binary
results, plain tuples): the facts ranking reads of a post, the viewer's state, the candidates
and the page. Each is one round trip; why each is shaped so is said beside it."""

from __future__ import annotations

from services.feed.common import (
    FOLLOWERS,
    POST_COLUMNS,
    PUBLIC,
    PUBLISHED,
    S_FOLLOWING,
    S_MUTUALS,
    S_PREFERENCES,
    S_RECENT,
    S_REMIXES,
    S_TRENDING,
)

# The scorer's counters, last in `FACT_SQL`, in this order.
FEATURES = (
    "remix_generations",
    "remix_count",
    "created_after_view",
    "cameo_requests",
    "like_count",
    "comment_count",
    "report_count",
    "see_less_count",
    "watch_ms",
    "view_count",
)
# What ranking needs of a post besides its author (`CANDIDATES_SQL` sends them as int8s; `PostFactsCache`
# keeps them): times in µs since the epoch (the updated_at stamp computed as `micros_column` does, so it
# compares exactly with the preference index's).
FACT_SQL = (
    "p.visibility",
    "(p.embedding IS NOT NULL)::int",
    "extract(epoch FROM p.created_at) * 1000000",
    "extract(epoch FROM p.updated_at) * 1000000",
    *(f"p.{name}" for name in FEATURES),
)
FACT_VISIBILITY = 0  # index of visibility in `FACT_SQL`
# The numbers as one bytea of big-endian int8s per row, so the server turns all of them into
# columns with one numpy call instead of parsing ~10k values.
NUMBERS_SQL = " || ".join(f"int8send(CAST({expr} AS bigint))" for expr in FACT_SQL)

# `PostFactsCache.read`: (id, author, numbers) of published posts by id.
FACTS_SQL = f"""
SELECT p.id, p.author_user_id, {NUMBERS_SQL}
FROM posts p WHERE p.id = ANY(string_to_array(%(ids)s, ',')) AND p.state = {PUBLISHED}
"""

# Everything GetFeed needs to know about the viewer, in one statement: the user
# row (NULL columns if the feed doesn't know the user yet), the session's owner and count (the
# session row locked, so pages of one session are served one at a time), today's count, whom
# the viewer blocked or is blocked by, whom the viewer follows (and of those, who follows back),
# and the latest 20 "see less" posts' authors and
# embeddings (concatenated: one bytea, not 20 values). It also sets plan_cache_mode for the rest
# of the transaction (as SET LOCAL would, without a round trip of its own): the candidate
# statement's generic plan is as good for every viewer and saves ~2 ms of planning per request.
# A generic plan is made once per connection and kept, so it must not depend on how big `served`
# looked when it was made: planned while `served` was empty (a new install, after a restore or a
# truncation, with no ANALYZE since: autovacuum off or behind), the served check became a
# sequential scan of the whole table per candidate (or a hash of the viewer's whole history),
# whose cost then grew with every row served, for as long as the connection lived. With
# sequential scans off for the transaction, the served checks (per-id subplans, `CANDIDATES_SQL`)
# are index probes: their cost does not depend on `served`'s size nor on the viewer's history
# length (tests/feed/test_feed_history.py). Every statement of GetFeed reads rows by key.
USER_COLUMNS = (
    "id",
    "handle",
    "region",
    "teen",
    "daily_item_cap",
    "non_personalized",
    "prefs_phrases",
    "prefs_vectors",
)
VIEWER_STATE_SQL = f"""
WITH sess AS (SELECT user_id, item_count FROM feed_sessions WHERE id = %(session)s FOR UPDATE)
SELECT {", ".join(f"u.{c}" for c in USER_COLUMNS)}, sess.user_id, sess.item_count,
       (SELECT item_count FROM daily_counts WHERE user_id = %(viewer)s AND day = %(day)s),
       ARRAY(SELECT blocked_id FROM blocks WHERE blocker_id = %(viewer)s
             UNION SELECT blocker_id FROM blocks WHERE blocked_id = %(viewer)s),
       ARRAY(SELECT followee_id FROM follows WHERE follower_id = %(viewer)s),
       ARRAY(SELECT f.followee_id FROM follows f WHERE f.follower_id = %(viewer)s AND EXISTS (
             SELECT 1 FROM follows g WHERE g.follower_id = f.followee_id AND g.followee_id = %(viewer)s)),
       sl.authors, sl.embeddings, set_config('plan_cache_mode', 'force_generic_plan', true),
       set_config('enable_seqscan', 'off', true)
FROM (SELECT 1) AS one
LEFT JOIN users u ON u.id = %(viewer)s
LEFT JOIN sess ON true
CROSS JOIN LATERAL (
    SELECT array_agg(l.author_user_id) AS authors, string_agg(p.embedding, ''::bytea) AS embeddings
    FROM (SELECT post_id, author_user_id FROM see_less WHERE user_id = %(viewer)s
          ORDER BY created_at DESC LIMIT 20) l
    LEFT JOIN posts p ON p.id = l.post_id) sl
"""

# The candidates' rows, in one statement. The sources computed in memory (followees' newest
# posts, trending, nearest to stated preferences) arrive as id lists, split by the server into
# ids whose facts it holds (`PostFactsCache`, %(held)s) and ids to look up (one list per
# source); remixes of posts the viewer made or liked, and recent public posts for a
# non-personalized feed, are found here. For an id in several sources the lowest rank wins
# (following/mutuals, remixes, trending, preferences, recent). Posts already served to the
# viewer drop out: a looked-up row carries source, whether a remix is of the viewer's own post,
# author and `FACT_SQL` numbers; of the held ids only those already served come back, as rows
# of an id alone. Followers-only posts count only from the followed source.
CANDIDATES_SQL = f"""
WITH own AS (
    SELECT id FROM posts WHERE author_user_id = %(viewer)s AND %(personal)s ORDER BY created_at DESC LIMIT 500
), parents AS (
    SELECT id FROM own
    UNION
    (SELECT post_id FROM likes WHERE user_id = %(viewer)s AND %(personal)s ORDER BY created_at DESC LIMIT 500)
), remixed AS (
    -- Per parent by (remix_of_post_id, created_at), then the newest overall. "<> ''" tells the
    -- planner that few posts are remixes (else it walks every post newest-first looking for them).
    SELECT r.id, r.remix_of_post_id IN (SELECT id FROM own) AS of_own
    FROM parents pa CROSS JOIN LATERAL (
        SELECT p.id, p.remix_of_post_id, p.created_at FROM posts p
        WHERE p.remix_of_post_id = pa.id AND p.remix_of_post_id <> ''
          AND p.state = {PUBLISHED} AND p.visibility = {PUBLIC}
        ORDER BY p.created_at DESC LIMIT %(lim)s) r
    ORDER BY r.created_at DESC LIMIT %(lim)s
), sourced AS (
    SELECT id, {S_FOLLOWING} AS source, 0 AS rank, false AS of_own
    FROM unnest(string_to_array(%(following)s, ',')) AS t(id)
    UNION ALL SELECT id, {S_MUTUALS}, 0, false FROM unnest(string_to_array(%(mutuals)s, ',')) AS t(id)
    UNION ALL SELECT id, {S_REMIXES}, 1, of_own FROM remixed
    UNION ALL SELECT id, {S_TRENDING}, 2, false FROM unnest(string_to_array(%(trending)s, ',')) AS t(id)
    UNION ALL SELECT id, {S_PREFERENCES}, 3, false FROM unnest(string_to_array(%(nearest)s, ',')) AS t(id)
    UNION ALL (SELECT id, {S_RECENT}, 4, false FROM posts
               WHERE NOT %(personal)s AND state = {PUBLISHED} AND visibility = {PUBLIC}
               ORDER BY created_at DESC LIMIT %(lim)s)
), picked AS (
    -- "C": a byte-wise sort; the default collation's is several times slower and order is irrelevant here.
    SELECT DISTINCT ON (id COLLATE "C") id, source, rank, of_own FROM sourced ORDER BY id COLLATE "C", rank
)
SELECT p.id, p.author_user_id, k.source, k.of_own, {NUMBERS_SQL} AS numbers
FROM picked k
JOIN posts p ON p.id = k.id
WHERE p.state = {PUBLISHED} AND (p.visibility = {PUBLIC} OR (p.visibility = {FOLLOWERS} AND k.rank = 0))
  AND NOT EXISTS (SELECT 1 FROM served s WHERE s.user_id = %(viewer)s AND s.post_id = p.id OFFSET 0)
UNION ALL
-- (Per id, not `post_id = ANY(..)`: with a generic plan that compares each of the viewer's served
-- rows with every held id, 0.9 ms for a viewer served 50 posts; a probe per id takes 0.2 ms.)
SELECT h.id, NULL, NULL, NULL, NULL FROM unnest(string_to_array(%(held)s, ',')) AS h(id)
WHERE EXISTS (SELECT 1 FROM served s WHERE s.user_id = %(viewer)s AND s.post_id = h.id OFFSET 0)
"""
# Both served checks are subplans (OFFSET 0 keeps PostgreSQL from turning them into joins), run
# once per id with the id as a parameter: an index probe of served's key whatever the generic
# plan's estimates were. As joins, a plan made while `served` looked empty read the viewer's
# whole history (or the whole table) for every candidate (see `VIEWER_STATE_SQL`).
# Which source wins an id found by several (lowest first), as in `CANDIDATES_SQL`.
SOURCE_RANK: dict[int, int] = {S_FOLLOWING: 0, S_MUTUALS: 0, S_REMIXES: 1, S_TRENDING: 2, S_PREFERENCES: 3, S_RECENT: 4}

# The page's full rows (author handle, whether the viewer liked each) and the bookkeeping for
# them in the same statement: served (no repeats), today's count, the session's count (created
# on its first page). The rules that make a post servable are checked here again, on the rows
# as they are now, since ranking may have used facts a few seconds old (`PostFactsCache`) or a
# ranking kept from an earlier page (rankings.py): a post unpublished or taken down meanwhile,
# made visible to followers only (unless the viewer follows its author) or private, or reported
# (for a teen) is absent. Nothing is served twice: if a page's post was already served to the
# viewer (since the ranking: by another replica or session), nothing is recorded and its row
# says "already_served" (the server makes the page again without it); a row served by a
# concurrent transaction meanwhile is left out of the insert (ON CONFLICT) and says "recorded"
# false. The counts are of the rows recorded. The served checks are index probes per page item.
PAGE_SQL = f"""
WITH page AS (
    SELECT {", ".join(f"p.{c.name}" for c in POST_COLUMNS)}, coalesce(u.handle, '') AS author_handle,
           EXISTS (SELECT 1 FROM likes l WHERE l.user_id = %(viewer)s AND l.post_id = p.id) AS liked_by_caller,
           EXISTS (SELECT 1 FROM served s WHERE s.user_id = %(viewer)s AND s.post_id = p.id OFFSET 0)
               AS already_served
    FROM posts p LEFT JOIN users u ON u.id = p.author_user_id
    WHERE p.id = ANY(string_to_array(%(ids)s, ',')) AND p.state = {PUBLISHED}
      AND (p.visibility = {PUBLIC} OR (p.visibility = {FOLLOWERS} AND NOT %(teen)s AND EXISTS (
          SELECT 1 FROM follows f WHERE f.follower_id = %(viewer)s AND f.followee_id = p.author_user_id)))
      AND (NOT %(teen)s OR p.report_count = 0)
), served_rows AS (
    INSERT INTO served (user_id, post_id, served_at)
    SELECT %(viewer)s, id, %(now)s FROM page WHERE NOT EXISTS (SELECT 1 FROM page WHERE already_served)
    ON CONFLICT (user_id, post_id) DO NOTHING
    RETURNING post_id
), today AS (
    INSERT INTO daily_counts (user_id, day, item_count) SELECT %(viewer)s, %(day)s, count(*) FROM served_rows
    HAVING count(*) > 0
    ON CONFLICT (user_id, day) DO UPDATE SET item_count = daily_counts.item_count + excluded.item_count
), session_count AS (
    INSERT INTO feed_sessions (id, user_id, item_count, started_at)
    SELECT %(session)s, %(viewer)s, count(*), %(now)s FROM served_rows
    ON CONFLICT (id) DO UPDATE SET item_count = feed_sessions.item_count + excluded.item_count
)
SELECT page.*, page.id IN (SELECT post_id FROM served_rows) AS recorded FROM page
"""
PAGE_COLUMNS = (*(c.name for c in POST_COLUMNS), "author_handle", "liked_by_caller", "already_served", "recorded")
