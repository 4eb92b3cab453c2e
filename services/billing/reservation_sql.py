"""The SQL of Reserve's fast path and of settling many holds at once
(PostgreSQL; used by reservations.py). These write the same rows Ledger.post
does, under the same locking order."""

from sqlalchemy import text

# Reserve's fast path (PostgreSQL, psycopg parameters; see Reservations._reserve_fast).
# The read is one snapshot; the write locks the user row, then the accounts in
# ascending id order (as the general path and Ledger.post do, so no
# deadlocks), and writes only if the day, the grant and both balances the
# decision was made on are unchanged. The CHECK on accounts still refuses a
# negative user balance.
USER_STATE = """
SELECT a.id, a.kind, a.unit, a.balance, u.allowance_day, u.allowance_granted,
       (SELECT s.plan_id FROM subscriptions s
         WHERE s.user_id = %(uid)s AND s.status IN ('active', 'canceling') AND s.current_period_end > %(now)s
         ORDER BY s.current_period_end DESC LIMIT 1) AS plan_id,
       (SELECT r.user_id FROM reservations r WHERE r.generation_id = %(gen)s) AS reserved_for
FROM billing_users u JOIN accounts a ON a.owner = u.user_id
WHERE u.user_id = %(uid)s"""
HOLD = """
WITH usr AS MATERIALIZED (
    SELECT 1 FROM billing_users
    WHERE user_id = %(uid)s AND allowance_day = %(day)s AND allowance_granted = %(granted)s FOR UPDATE),
locked AS MATERIALIZED (
    SELECT id, balance FROM accounts
    WHERE id IN (%(alw)s, %(cred)s, %(dst)s) AND EXISTS (SELECT 1 FROM usr) ORDER BY id FOR UPDATE),
ok AS MATERIALIZED (
    SELECT 1 FROM locked HAVING count(*) = 3
       AND bool_and(CASE id WHEN %(alw)s THEN balance = %(alw_seen)s WHEN %(cred)s THEN balance = %(cred_seen)s
                    ELSE true END)),
moved AS (
    UPDATE accounts a SET balance = l.balance + CASE WHEN a.id = %(src)s THEN -CAST(%(n)s AS BIGINT) ELSE %(n)s END
    FROM locked l, ok WHERE a.id = l.id AND a.id IN (%(src)s, %(dst)s) RETURNING a.id, a.balance),
tx AS (
    INSERT INTO ledger_transactions (id, kind, user_id, generation_id, description, created_at)
    SELECT %(tx)s, 'reserve', %(uid)s, %(gen)s, %(desc)s, %(now)s FROM ok),
entries AS (
    INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after, created_at)
    SELECT %(tx)s, id, CASE WHEN id = %(src)s THEN -CAST(%(n)s AS BIGINT) ELSE %(n)s END, balance, %(now)s
    FROM moved)
INSERT INTO reservations (id, generation_id, user_id, status, rule, tier, allowance_units, credits, model, seconds,
                          size, quote_id, day, reason, created_at, expires_at)
SELECT %(rid)s, %(gen)s, %(uid)s, 'held', %(rule)s, %(tier)s, %(units)s, %(credits)s, %(model)s, %(seconds)s,
       %(size)s, NULL, %(day)s, '', %(now)s, %(expires)s
FROM ok
RETURNING *"""


# Settling many holds at once: the generations' holds still held
# are locked (in generation id order, like Reservations.settle); each gets its transaction and
# two entries per unit it holds (held -> the destination `rules` name); the
# touched accounts are locked in ascending id order like Ledger.post does,
# each entry records its running balance, each balance is updated once.
SETTLE = text("""
WITH held AS MATERIALIZED (
    SELECT r.id, r.generation_id, r.user_id, r.allowance_units, r.credits, r.day FROM reservations r
    WHERE r.generation_id = ANY(ARRAY(SELECT json_array_elements_text(CAST(:gens AS json)))) AND r.status = 'held'
    ORDER BY r.generation_id FOR UPDATE),
s AS MATERIALIZED (
    SELECT id, generation_id, user_id, allowance_units, credits, day = :today AS same_day,
           CAST(gen_random_uuid() AS TEXT) AS tx, row_number() OVER (ORDER BY generation_id) AS seq
    FROM held),
rules AS (
    SELECT * FROM json_to_recordset(CAST(:rules AS json)) AS x(unit text, same_day boolean, platform boolean,
                                                               kind text)),
moves AS (
    SELECT s.*, rules.*, CASE WHEN rules.unit = 'allowance' THEN s.allowance_units ELSE s.credits END AS amount
    FROM s JOIN rules ON rules.same_day = s.same_day),
legs AS MATERIALIZED (
    SELECT m.tx, m.seq, src.id AS account_id, -m.amount AS amount, 0 AS leg
    FROM moves m JOIN accounts src ON src.owner = m.user_id AND src.kind = 'held' AND src.unit = m.unit
    WHERE m.amount <> 0
    UNION ALL
    SELECT m.tx, m.seq, dst.id, m.amount, 1
    FROM moves m JOIN accounts dst ON dst.owner = CASE WHEN m.platform THEN 'platform' ELSE m.user_id END
                                  AND dst.kind = m.kind AND dst.unit = m.unit
    WHERE m.amount <> 0),
locked AS MATERIALIZED (
    -- The platform's revenue accounts always come first (lowest ids), whatever the outcome: a
    -- metering batch settles its outcomes one statement at a time, and billing runs two consumer
    -- members, so no batch may hold a user's account while it waits for another batch.
    SELECT id, balance FROM accounts
    WHERE id IN (SELECT account_id FROM legs
                 UNION ALL SELECT id FROM accounts WHERE owner = 'platform' AND kind = 'revenue')
    ORDER BY id FOR UPDATE),
moved AS (
    UPDATE accounts a SET balance = locked.balance + d.total
    FROM locked, (SELECT account_id, sum(amount) AS total FROM legs GROUP BY account_id) d
    WHERE a.id = locked.id AND d.account_id = locked.id),
txs AS (
    INSERT INTO ledger_transactions (id, kind, user_id, generation_id, description, created_at)
    SELECT tx, :kind, user_id, generation_id, 'generation ' || generation_id || :what, :now FROM s),
entries AS (
    INSERT INTO ledger_entries (transaction_id, account_id, amount, balance_after, created_at)
    SELECT legs.tx, legs.account_id, legs.amount,
           locked.balance + sum(legs.amount) OVER (PARTITION BY legs.account_id ORDER BY legs.seq, legs.leg), :now
    FROM legs JOIN locked ON locked.id = legs.account_id
    ORDER BY legs.seq, legs.leg)
UPDATE reservations r SET status = :outcome, settled_at = :now, reason = :reason
FROM s, (SELECT (SELECT count(*) FROM legs) = 2 * (SELECT count(*) FROM moves WHERE amount <> 0) AS complete) g
WHERE r.id = s.id
RETURNING r.*, g.complete AS legs_complete""")
