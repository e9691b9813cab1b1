-- Data health of a published warehouse (scrm_lib.warehouse.health): the
-- rejected rows, coverage per platform and month, freshness per table.
-- The build log itself is read through build_log.sql.

-- name: rejects
SELECT file, line, "column", reason, raw_value
FROM rejects
WHERE $reason IS NULL OR reason = $reason
ORDER BY file, line, "column"
{% if limited %}
LIMIT $limit
{% endif %}

-- name: coverage
-- Months are calendar months in $zone. An order counts in the month it was
-- created; an event's platform is its account's, else the account id's
-- prefix.
WITH parts AS (
{% if orders %}
  SELECT platform, date_trunc('month', timezone($zone, created_at))::DATE AS month,
         count(*) AS orders, 0 AS events
  FROM orders
  WHERE created_at IS NOT NULL
  GROUP BY ALL
{% endif %}
{% if orders and events %}
  UNION ALL
{% endif %}
{% if events %}
  SELECT
  {% if accounts %}
    coalesce(a.platform, split_part(e.account_id, ':', 1)) AS platform,
  {% else %}
    split_part(e.account_id, ':', 1) AS platform,
  {% endif %}
    date_trunc('month', timezone($zone, e.ts))::DATE AS month,
    0 AS orders, count(*) AS events
  FROM events e
  {% if accounts %}
  LEFT JOIN accounts a USING (account_id)
  {% endif %}
  WHERE e.ts IS NOT NULL
  GROUP BY ALL
{% endif %}
)
SELECT coalesce(nullif(platform, ''), $no_platform) AS platform, month,
       sum(orders)::BIGINT AS orders, sum(events)::BIGINT AS events
FROM parts
GROUP BY ALL
ORDER BY platform, month

-- name: latest
-- Rows and latest {{ ts }} of one table per platform: its own platform column,
-- else its account's platform (the id's prefix without an accounts row),
-- else 'all'.
SELECT
  coalesce(nullif(
  {%- if platform %} t.{{ platform }}
  {%- elif account and accounts %} coalesce(a.platform, split_part(t.{{ account }}, ':', 1))
  {%- elif account %} split_part(t.{{ account }}, ':', 1)
  {%- else %} 'all'
  {%- endif %}, ''), $no_platform) AS platform,
  count(*)::BIGINT AS rows, max(t.{{ ts }}) AS latest
FROM {{ source }} t
{% if not platform and account and accounts %}
LEFT JOIN accounts a ON a.account_id = t.{{ account }}
{% endif %}
GROUP BY ALL
