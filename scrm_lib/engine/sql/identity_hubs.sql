-- Account-key hubs (scrm_lib.identity.account_hubs): an account whose key staff typed
-- for many buyers, found from its orders' recipients and split by them.

-- A full mainland mobile, and its 138****5678 form, so that an export showing the
-- full phone and one showing it masked count one recipient, not two.
{% macro masked(v) -%}
CASE WHEN regexp_full_match({{ v }}, '\+861[0-9]{10}')
         THEN substr({{ v }}, 4, 3) || '****' || substr({{ v }}, 11, 4)
         ELSE nullif(trim({{ v }}), '') END
{%- endmacro %}

-- name: detect
-- Accounts whose distinct recipients (names, phones or addresses) or devices pass the
-- limits, with the identifier kind equal to their native id.
WITH rows_per AS (
    SELECT account_id, count(*) AS n_rows FROM orders
    WHERE account_id IS NOT NULL AND account_id <> '' GROUP BY 1
),
ids_per AS (
    SELECT account_id,
        count(*) FILTER (WHERE kind <> 'device') AS n_ids,
        count(*) FILTER (WHERE kind = 'device') AS n_dev
    FROM identifiers
    WHERE kind IN ('name', 'address', 'recipient_phone', 'phone_masked', 'device')
    GROUP BY 1
),
-- distinct recipients can be no more than order rows plus identifier rows: counting
-- them (the costly part) only where that sum passes the limit keeps a million-person
-- build from grouping every order twice
cand AS (
    SELECT account_id FROM rows_per LEFT JOIN ids_per USING (account_id)
    WHERE n_rows + coalesce(n_ids, 0) > $limit
    UNION
    SELECT account_id FROM ids_per WHERE n_dev > $device_limit
),
o AS (
    SELECT account_id, order_id,
        nullif(trim(recipient_name), '') AS name,
        {{ masked("recipient_phone") }} AS phone,
        nullif(regexp_replace(recipient_address, '\s+', '', 'g'), '') AS address
    FROM orders WHERE account_id IN (SELECT account_id FROM cand)
),
n AS (SELECT account_id, count(DISTINCT order_id) AS n_orders FROM o GROUP BY 1),
ev AS (
    SELECT account_id, 'name' AS k, name AS v FROM o
    UNION ALL SELECT account_id, 'phone', phone FROM o
    UNION ALL SELECT account_id, 'address', address FROM o
    -- exports that keep the recipient only as identifiers (and devices, on any account)
    UNION ALL
    SELECT account_id,
        CASE WHEN kind IN ('recipient_phone', 'phone_masked') THEN 'phone' ELSE kind END,
        CASE WHEN kind = 'address' THEN nullif(regexp_replace(value, '\s+', '', 'g'), '')
             WHEN kind = 'device' THEN nullif(trim(value), '')
             ELSE {{ masked("value") }} END
    FROM identifiers
    WHERE kind IN ('name', 'address', 'recipient_phone', 'phone_masked', 'device')
      AND account_id IN (SELECT account_id FROM cand)
),
counts AS (
    SELECT ev.account_id, coalesce(any_value(n.n_orders), 0) AS n_orders,
        count(DISTINCT v) FILTER (WHERE k = 'name') AS n_receiver_names,
        count(DISTINCT v) FILTER (WHERE k = 'phone') AS n_receiver_phones,
        count(DISTINCT v) FILTER (WHERE k = 'address') AS n_addresses,
        count(DISTINCT v) FILTER (WHERE k = 'device') AS n_devices
    FROM ev LEFT JOIN n USING (account_id)
    GROUP BY ev.account_id
),
-- names, phones and addresses count only behind orders: a WeCom contact's several
-- staff remarks are one person's names, not many buyers
hub AS (
    SELECT * FROM counts
    WHERE (n_orders > 0 AND greatest(n_receiver_names, n_receiver_phones, n_addresses) > $limit)
       OR n_devices > $device_limit
),
-- the key itself: the identifier equal to the account's native id (Youzan: its phone)
key AS (
    SELECT i.account_id, min(i.kind) AS kind
    FROM identifiers i JOIN accounts a ON a.account_id = i.account_id AND i.value = a.native_id
    WHERE i.account_id IN (SELECT account_id FROM hub)
    GROUP BY 1
)
SELECT hub.account_id, coalesce(key.kind, 'account') AS kind, a.native_id AS value,
    hub.n_orders::BIGINT AS n_orders, hub.n_receiver_names::BIGINT AS n_receiver_names,
    hub.n_receiver_phones::BIGINT AS n_receiver_phones,
    hub.n_addresses::BIGINT AS n_addresses, hub.n_devices::BIGINT AS n_devices
FROM hub JOIN accounts a USING (account_id) LEFT JOIN key USING (account_id)
ORDER BY hub.n_orders DESC, hub.account_id

-- name: recipient_names
-- Recipients as typed on the hubs' orders, to be cleaned into names in Python.
SELECT DISTINCT nullif(trim(o.recipient_name), '') AS raw
FROM orders o JOIN _account_hubs h ON o.account_id = h.account_id
WHERE nullif(trim(o.recipient_name), '') IS NOT NULL

-- name: route
-- Each order line of a hub and where it goes. A recipient phone that is itself a
-- hub's key (the counter phone typed in both fields) is no evidence of anyone.
CREATE OR REPLACE TEMP TABLE _hub_orders AS
WITH o AS (
    SELECT o.platform, o.order_id, o.line_id, o.account_id AS hub_account_id,
        h.kind = 'phone' AND o.account_id = o.platform || ':' || h.value AS keyed_by_phone,
        nullif(trim(o.recipient_name), '') AS name, n.clean AS clean_name,
        CASE WHEN regexp_full_match(o.recipient_phone, '\+[1-9][0-9]{7,14}')
              AND o.recipient_phone NOT IN (SELECT value FROM _account_hubs WHERE kind = 'phone')
             THEN o.recipient_phone END AS phone,
        nullif(trim(o.recipient_address), '') AS address,
        least(o.created_at, coalesce(o.paid_at, o.created_at)) AS ts, o.source_file
    FROM orders o JOIN _account_hubs h ON o.account_id = h.account_id
    LEFT JOIN _hub_names n ON n.raw = nullif(trim(o.recipient_name), '')
)
SELECT *,
    CASE WHEN phone IS NOT NULL THEN 'receiver_phone'
         WHEN name IS NOT NULL AND address IS NOT NULL THEN 'receiver_name_address'
         ELSE 'unattributed' END AS evidence,
    CASE WHEN phone IS NOT NULL
             THEN platform || CASE WHEN keyed_by_phone THEN ':' ELSE ':~' END || phone
         WHEN name IS NOT NULL AND address IS NOT NULL
             THEN platform || ':~' || left(md5(coalesce(clean_name, name) || '|' ||
                  regexp_replace(address, '\s+', '', 'g')), 16)
         ELSE hub_account_id END AS account_id
FROM o

-- name: rekey_orders
UPDATE orders SET account_id = m.account_id FROM _hub_orders m
WHERE m.evidence <> 'unattributed' AND orders.platform = m.platform
  AND orders.order_id = m.order_id AND orders.line_id IS NOT DISTINCT FROM m.line_id

-- name: derived_accounts
CREATE OR REPLACE TEMP TABLE _hub_derived AS
SELECT account_id, any_value(platform) AS platform, min(clean_name) AS name,
    min(ts) AS first_seen, min(source_file) AS source_file
FROM _hub_orders WHERE evidence <> 'unattributed' GROUP BY account_id

-- name: earlier_first_seen
UPDATE accounts SET first_seen = d.first_seen FROM _hub_derived d
WHERE accounts.account_id = d.account_id
  AND (accounts.first_seen IS NULL OR d.first_seen < accounts.first_seen)

-- name: add_accounts
INSERT INTO accounts BY NAME
SELECT account_id, platform, substr(account_id, length(platform) + 2) AS native_id,
    name AS display_name, first_seen, NULL AS channel_code, source_file
FROM _hub_derived
WHERE account_id NOT IN (SELECT account_id FROM accounts)

-- name: drop_recipient_identifiers
-- The hubs' identifiers that describe their buyers (names, addresses, recipient
-- phones): the buyers now have accounts of their own.
DELETE FROM identifiers
WHERE account_id IN (SELECT account_id FROM _account_hubs)
  AND kind IN (SELECT unnest($kinds::VARCHAR[]))

-- name: add_identifiers
INSERT INTO identifiers BY NAME
SELECT DISTINCT account_id, kind, value, source_file FROM (
    SELECT account_id, 'phone' AS kind, phone AS value, source_file
    FROM _hub_orders WHERE evidence = 'receiver_phone'
    UNION ALL
    SELECT account_id, 'name', clean_name, source_file FROM _hub_orders
    WHERE evidence <> 'unattributed' AND clean_name IS NOT NULL
    UNION ALL
    SELECT account_id, 'address', address, source_file FROM _hub_orders
    WHERE evidence <> 'unattributed' AND address IS NOT NULL
) new
WHERE NOT EXISTS (
    SELECT 1 FROM identifiers i
    WHERE i.account_id = new.account_id AND i.kind = new.kind AND i.value = new.value
)
QUALIFY row_number() OVER (PARTITION BY account_id, kind, value ORDER BY source_file) = 1

-- name: hub_orders
SELECT platform, order_id, line_id, hub_account_id, account_id, evidence
FROM _hub_orders ORDER BY hub_account_id, platform, order_id, line_id

-- name: split_ledger
SELECT hub_account_id AS a, account_id AS b, 'hub_split' AS stage, evidence AS rule,
    CASE evidence WHEN 'receiver_phone' THEN 'phone' ELSE 'name_address' END AS kind,
    min(CASE evidence WHEN 'receiver_phone' THEN phone
        ELSE coalesce(clean_name, name) END) AS value
FROM _hub_orders WHERE evidence <> 'unattributed'
GROUP BY hub_account_id, account_id, evidence ORDER BY a, b, rule
