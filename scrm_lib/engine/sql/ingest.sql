-- Column-wise work ingest hands to DuckDB (scrm_lib.ingest): hashing row ids and
-- rendering unmapped source columns as JSON, vectorized, on a registered Arrow table.

-- name: quiet
SET enable_progress_bar = false

-- name: content_hash
-- The first $length hex digits of the sha256 of the columns' text joined by U+001F
-- (null as empty), one row per input row, in input order.
SELECT substr(sha256(
{% for c in columns %}
    {{ "|| chr(31) || " if not loop.first }}coalesce({{ c }}, '')
{% endfor %}
), 1, $length) AS h
FROM {{ view }}

-- name: json_objects
-- One JSON object per row: column c under the key in parameter $c_key (the key
-- JSON-quoted, then a colon); null columns are left out, null when all are.
SELECT '{' || nullif(concat_ws(','
{% for c in columns %}
    , CASE WHEN {{ c }} IS NULL THEN NULL ELSE ${{ c }}_key || to_json({{ c }}) END
{% endfor %}
), '') || '}' AS j
FROM {{ view }}
