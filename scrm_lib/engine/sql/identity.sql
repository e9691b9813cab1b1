-- The identity build step (scrm_lib.identity.step, graph, person360, overrides,
-- evaluate): the deterministic graph, the tables it writes, the persons mart, the
-- overrides in the state store and the scores against a truth.

-- name: keep_frame
-- A registered frame kept as a temporary table for the statements after it.
CREATE OR REPLACE TEMP TABLE {{ target }} AS SELECT * FROM {{ frame }}

-- name: write_frame
-- A registered frame written as a warehouse table (replacing it).
CREATE OR REPLACE TABLE {{ target }} AS SELECT * FROM {{ frame }}

-- name: drop_scratch
-- A working table of the step, dropped when the marts are written (a Spark step's
-- session would otherwise publish its temporary views as marts).
DROP TABLE IF EXISTS {{ scratch }}

-- name: account_ids
SELECT account_id FROM accounts ORDER BY account_id

-- name: previous_person_ids
SELECT account_id, person_id FROM person_accounts

-- name: id_groups
-- Per shared identifier value: accounts holding it (leaving out the skipped ones,
-- account-key hubs), the most on one platform and its smallest account (the anchor).
-- `only_kinds`: just the kinds in $kinds (the rest are neither linked nor reported).
-- (account_id, kind, value) is the table's key: count(*) counts accounts.
CREATE OR REPLACE TEMP TABLE _id_groups AS
WITH per_platform AS (
    SELECT kind, value, split_part(account_id, ':', 1) AS platform,
        count(*) AS n, min(account_id) AS anchor
    FROM identifiers
    WHERE value IS NOT NULL AND value <> ''
      AND account_id NOT IN (SELECT unnest($skip::VARCHAR[]))
{% if only_kinds %}
      AND kind IN (SELECT unnest($kinds::VARCHAR[]))
{% endif %}
    GROUP BY ALL
)
SELECT kind, value, sum(n)::BIGINT AS n_accounts, min(anchor) AS anchor,
    max(n) AS most_on_one_platform
FROM per_platform GROUP BY kind, value

-- name: id_groups_hubs
-- A value is a hub when too many accounts share it, or too many on one platform (a
-- person rarely holds more than a couple of accounts per platform), or when it is
-- forced (the key of an account-key hub, registered as _id_forced_hubs).
CREATE OR REPLACE TEMP TABLE _id_groups AS
SELECT g.*, f.kind IS NOT NULL AS forced,
    n_accounts > $hub_limit OR f.kind IS NOT NULL
    OR (most_on_one_platform > $platform_limit AND g.kind IN (SELECT unnest($kinds::VARCHAR[])))
        AS hub
FROM _id_groups g
LEFT JOIN (SELECT DISTINCT kind, value FROM _id_forced_hubs) f
    ON f.kind = g.kind AND f.value = g.value

-- name: identifier_hubs
SELECT kind, value, n_accounts FROM _id_groups
WHERE hub AND (NOT forced OR n_accounts >= 2) ORDER BY n_accounts DESC, kind, value

-- name: deterministic_edges
-- One star edge per account sharing a linking value: its anchor to every other holder.
SELECT DISTINCT g.anchor AS a, i.account_id AS b, g.kind, g.value
FROM identifiers i
JOIN _id_groups g ON i.kind = g.kind AND i.value = g.value
WHERE g.kind IN (SELECT unnest($kinds::VARCHAR[]))
  AND g.n_accounts >= 2 AND NOT g.hub
  AND i.account_id <> g.anchor
  AND NOT list_contains($skip::VARCHAR[], i.account_id)
ORDER BY a, b, g.kind

-- name: build_persons
-- The persons mart: one row per person, from person_accounts and the canonical tables.
CREATE OR REPLACE TABLE persons AS
WITH acc AS (
    SELECT pa.person_id, a.account_id, split_part(a.account_id, ':', 1) AS platform,
           a.first_seen, a.channel_code
    FROM person_accounts pa JOIN accounts a USING (account_id)
),
activity AS (
    SELECT account_id, max(coalesce(paid_at, created_at)) AS ts FROM orders GROUP BY 1
    UNION ALL SELECT account_id, max(ts) FROM events GROUP BY 1
    UNION ALL SELECT account_id, max(ts) FROM messages GROUP BY 1
    UNION ALL SELECT account_id, max(ts) FROM touches GROUP BY 1
),
last AS (SELECT account_id, max(ts) AS ts FROM activity GROUP BY 1),
ident AS (
    SELECT pa.person_id,
        min(CASE WHEN i.kind = 'phone' AND i.value LIKE '+861%'
                 THEN substr(i.value, 4, 3) || '****' || substr(i.value, 11, 4) END)
            AS phone_masked,
        min(CASE WHEN i.kind = 'name' THEN i.value END) AS name,
        min(CASE WHEN i.kind = 'city' THEN i.value END) AS city
    FROM person_accounts pa JOIN identifiers i USING (account_id)
    GROUP BY 1
)
SELECT acc.person_id,
    count(*) AS n_accounts,
    string_agg(DISTINCT acc.platform, ',' ORDER BY acc.platform) AS platforms,
    count(DISTINCT acc.platform) FILTER (WHERE acc.platform <> 'phone') AS n_platforms,
    min(acc.first_seen) AS first_seen,
    greatest(max(acc.first_seen), max(last.ts)) AS last_seen,
    -- the account id breaks ties of first_seen, so every build picks the same account
    arg_min(acc.platform, {'t': acc.first_seen, 'a': acc.account_id}) AS acquisition_platform,
    arg_min(acc.channel_code, {'t': acc.first_seen, 'a': acc.account_id})
        FILTER (WHERE acc.channel_code IS NOT NULL) AS acquisition_channel,
    any_value(ident.phone_masked) AS phone_masked,
    -- first character kept (张**): the mart is read by every role
    any_value(substr(ident.name, 1, 1) || repeat('*', length(ident.name) - 1)) AS name_masked,
    any_value(ident.city) AS city
FROM acc
LEFT JOIN last USING (account_id)
LEFT JOIN ident USING (person_id)
GROUP BY acc.person_id
ORDER BY acc.person_id

-- name: count_persons
SELECT count(*) FROM persons

-- name: overrides_table
CREATE TABLE IF NOT EXISTS identity_overrides (
    override_id VARCHAR PRIMARY KEY,
    action VARCHAR NOT NULL,
    account_a VARCHAR NOT NULL,
    account_b VARCHAR,
    reason VARCHAR NOT NULL,
    username VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL
)

-- name: add_override
INSERT INTO identity_overrides
VALUES ($override_id, $action, $account_a, $account_b, $reason, $username, $ts)

-- name: overrides
SELECT * FROM identity_overrides ORDER BY ts, override_id

-- name: score_clusters
-- Pair and B-cubed counts of a clustering (registered as p) against the truth (t).
WITH j AS (
    SELECT p.account_id, p.person_id AS pp, t.person_id AS tp
    FROM p JOIN t USING (account_id)
),
cells AS (SELECT pp, tp, count(*)::DOUBLE AS c FROM j GROUP BY pp, tp),
ps AS (SELECT pp, count(*)::DOUBLE AS n FROM j GROUP BY pp),
ts AS (SELECT tp, count(*)::DOUBLE AS n FROM j GROUP BY tp)
SELECT
    (SELECT count(*) FROM j) AS accounts,
    (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM ps) AS predicted_pairs,
    (SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM ts) AS true_pairs,
    (SELECT coalesce(sum(c * (c - 1) / 2), 0) FROM cells) AS correct_pairs,
    (SELECT sum(c * c / ps.n) FROM cells JOIN ps USING (pp)) AS b_p,
    (SELECT sum(c * c / ts.n) FROM cells JOIN ts USING (tp)) AS b_r

-- name: clues
-- Clue keys per account: what two accounts of one person can be seen to share in the
-- exports. Phones of every form meet on their visible digits.
SELECT account_id, kind || '=' || value AS clue FROM identifiers
WHERE kind IN ('unionid', 'email', 'member_no', 'openid', 'external_userid')
UNION ALL
SELECT account_id, 'mphone=' || CASE WHEN kind IN ('phone', 'recipient_phone')
    THEN substr(value, 4, 3) || '****' || substr(value, 11, 4) ELSE value END
FROM identifiers
WHERE (kind IN ('phone', 'recipient_phone') AND regexp_full_match(value, '\+861[0-9]{10}'))
   OR (kind IN ('phone_masked', 'alipay_masked')
       AND regexp_full_match(value, '1[0-9]{2}\*{4}[0-9]{4}'))
UNION ALL
SELECT account_id, 'address=' || regexp_replace(value, '\s+', '', 'g') FROM identifiers
WHERE kind = 'address'

-- name: names_and_nicknames
SELECT account_id, value FROM identifiers WHERE kind IN ('name', 'nickname')

-- name: stages
SELECT stage, mode, reason, records, candidate_pairs, columns, details
FROM identity_stages ORDER BY stage
