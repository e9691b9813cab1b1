-- Readers of the identity tables (scrm_lib.identity.ledger, views, person360): the
-- merge ledger, recognition reports, hubs, Customer 360 search, card and timeline.

-- name: person_edges
-- Every ledger edge touching one of the person's accounts.
WITH acc AS (SELECT account_id FROM person_accounts WHERE person_id = $pid)
SELECT a, b, stage, rule, kind, value, match_probability, compared, used
FROM identity_edges
WHERE a IN (SELECT account_id FROM acc) OR b IN (SELECT account_id FROM acc)
ORDER BY used DESC, stage, a, b

-- name: recognition
-- Per platform (other_platform 'any') and per platform pair: the share of the
-- platform's accounts whose person also has an account elsewhere / on the other.
WITH pa AS (
    SELECT account_id, person_id, split_part(account_id, ':', 1) AS platform
    FROM person_accounts WHERE NOT starts_with(account_id, 'phone:')
),
per AS (SELECT person_id, count(*) AS n FROM pa GROUP BY 1),
plats AS (SELECT DISTINCT person_id, platform FROM pa),
tot AS (SELECT platform, count(*) AS accounts FROM pa GROUP BY 1)
SELECT pa.platform, 'any' AS other_platform, count(*) AS accounts,
       count(*) FILTER (WHERE per.n >= 2) AS recognized,
       count(*) FILTER (WHERE per.n >= 2) / count(*) AS rate
FROM pa JOIN per USING (person_id) GROUP BY 1
UNION ALL
SELECT pa.platform, o.platform, any_value(tot.accounts), count(DISTINCT pa.account_id),
       count(DISTINCT pa.account_id) / any_value(tot.accounts)
FROM pa JOIN plats o ON o.person_id = pa.person_id AND o.platform <> pa.platform
JOIN tot ON tot.platform = pa.platform
GROUP BY 1, 2
ORDER BY 1, 2

-- name: cross_platform_new
-- Per month and platform: new accounts, and those whose person was seen earlier on
-- another platform.
WITH a AS (
    SELECT pa.person_id, ac.account_id, split_part(ac.account_id, ':', 1) AS platform,
           ac.first_seen
    FROM person_accounts pa JOIN accounts ac USING (account_id)
    WHERE NOT starts_with(ac.account_id, 'phone:') AND ac.first_seen IS NOT NULL
),
earliest AS (
    SELECT a.account_id, min(o.first_seen) AS other_first
    FROM a JOIN a o ON o.person_id = a.person_id AND o.platform <> a.platform
    GROUP BY 1
)
SELECT date_trunc('month', a.first_seen)::DATE AS month, a.platform,
       count(*) AS new_accounts,
       count(*) FILTER (WHERE e.other_first < a.first_seen) AS known_elsewhere,
       count(*) FILTER (WHERE e.other_first < a.first_seen) / count(*) AS share
FROM a LEFT JOIN earliest e USING (account_id)
GROUP BY 1, 2 ORDER BY 1, 2

-- name: hubs
SELECT * FROM identity_hubs

-- name: hub_columns
SELECT * FROM identity_hubs LIMIT 0

-- name: count_hubs
SELECT count(*) FROM identity_hubs

-- name: count_account_key_hubs
SELECT count(*) FROM identity_hubs WHERE scope = 'account_key'

-- name: changes
SELECT * FROM person_id_history ORDER BY reason, old_person_id

-- name: headline
-- Platform accounts (SMS contact points left out), persons, and the share of accounts
-- in persons of two or more.
WITH pa AS (SELECT * FROM person_accounts WHERE NOT starts_with(account_id, 'phone:')),
per AS (SELECT person_id, count(*) AS n FROM pa GROUP BY 1)
SELECT (SELECT count(*) FROM pa), (SELECT count(*) FROM per),
       (SELECT sum(n) FILTER (WHERE n >= 2) / sum(n) FROM per)

-- name: used_edges_by_stage
SELECT stage, count(*) FROM identity_edges WHERE used GROUP BY 1 ORDER BY 1

-- name: changes_by_reason
SELECT reason, count(*) FROM person_id_history GROUP BY 1

-- name: example_person
-- A merged person worth explaining: most platforms, with both stages if any.
WITH pa AS (
    SELECT person_id, account_id, split_part(account_id, ':', 1) AS platform
    FROM person_accounts WHERE NOT starts_with(account_id, 'phone:')
),
st AS (
    SELECT pa.person_id, count(DISTINCT e.stage) AS stages
    FROM pa JOIN identity_edges e ON e.used AND (e.a = pa.account_id)
    GROUP BY 1
)
SELECT pa.person_id FROM pa LEFT JOIN st USING (person_id)
GROUP BY pa.person_id, st.stages
HAVING count(*) >= 2
ORDER BY count(DISTINCT platform) DESC, coalesce(st.stages, 0) DESC, count(*) DESC,
         pa.person_id
LIMIT 1

-- name: search
-- Persons matching a text (t): a person or account id, part of an account id, a name
-- or nickname, or a phone ending in its digits (d, four or more).
WITH hit AS (
    SELECT person_id FROM person_accounts
    WHERE person_id = $t OR account_id = $t OR account_id ILIKE '%' || $t || '%'
    UNION
    SELECT pa.person_id FROM identifiers i JOIN person_accounts pa USING (account_id)
    WHERE (i.kind IN ('name', 'nickname') AND i.value = $t)
       OR (i.kind = 'phone' AND length($d) >= 4 AND i.value LIKE '%' || $d)
)
SELECT p.* FROM persons p JOIN hit USING (person_id)
ORDER BY p.n_accounts DESC, p.person_id LIMIT $n

-- name: person
SELECT * FROM persons WHERE person_id = $pid

-- name: resolve_person
-- The person behind a person id or account id (k), a phone (p) or an exact name (k).
SELECT person_id FROM person_accounts WHERE person_id = $k OR account_id = $k
UNION ALL
SELECT pa.person_id FROM identifiers i JOIN person_accounts pa USING (account_id)
WHERE (i.kind = 'phone' AND i.value = $p) OR (i.kind = 'name' AND i.value = $k)
LIMIT 1

-- name: person_accounts
SELECT a.account_id, split_part(a.account_id, ':', 1) AS platform, a.display_name,
       a.first_seen, a.channel_code
FROM person_accounts pa JOIN accounts a USING (account_id)
WHERE pa.person_id = $pid ORDER BY a.first_seen, a.account_id

-- name: person_identifiers
SELECT i.kind, i.value, i.account_id
FROM person_accounts pa JOIN identifiers i USING (account_id)
WHERE pa.person_id = $pid ORDER BY i.kind, i.value, i.account_id

-- name: timeline
-- One person's orders, refunds, journey events, messages and touches, in time order.
WITH acc AS (SELECT account_id FROM person_accounts WHERE person_id = $pid)
SELECT * FROM (
    SELECT coalesce(o.paid_at, o.created_at) AS ts, o.platform, o.account_id,
        CASE WHEN o.status = 'refunded' THEN 'refund' ELSE 'order' END AS type,
        o.order_id || ' ' || coalesce(o.items, '') AS detail,
        CAST(o.amount AS DOUBLE) AS amount
    FROM orders o JOIN acc USING (account_id)
    UNION ALL
    SELECT e.ts, split_part(e.account_id, ':', 1), e.account_id, e.type, e.attributes, NULL
    FROM events e JOIN acc USING (account_id)
    WHERE e.type IN ('qr_scan', 'group_join', 'group_leave', 'groupbuy_join', 'wecom_add',
                     'wecom_follow', 'wecom_customer_deleted_staff', 'share', 'cart_add')
    UNION ALL
    SELECT m.ts, split_part(m.account_id, ':', 1), m.account_id, 'message_' || m.direction,
        m.channel, NULL
    FROM messages m JOIN acc USING (account_id)
    UNION ALL
    SELECT t.ts, split_part(t.account_id, ':', 1), t.account_id, 'touch',
        t.channel || ' ' || coalesce(t.campaign, '') ||
        CASE WHEN t.clicked THEN ' clicked' WHEN t.opened THEN ' opened' ELSE '' END, NULL
    FROM touches t JOIN acc USING (account_id)
) ORDER BY ts, type, account_id
