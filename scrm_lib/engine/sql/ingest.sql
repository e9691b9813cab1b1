-- Column-wise work ingest hands to DuckDB (scrm_lib.ingest), on a registered Arrow table:
-- rendering unmapped source columns as JSON, hashing rows into content ids.

-- name: quiet
SET enable_progress_bar = false

-- name: json_objects
-- One JSON object per row: column c under the key in parameter $c_key (the key
-- JSON-quoted, then a colon); null columns are left out, null when all are.
SELECT '{' || nullif(concat_ws(','
{% for c in columns %}
    , CASE WHEN {{ c }} IS NULL THEN NULL ELSE ${{ c }}_key || to_json({{ c }}) END
{% endfor %}
), '') || '}' AS j
FROM {{ view }}

-- name: content_hash
-- The first $length hex digits of the sha256 of each row's columns joined by U+001F
-- (missing values given as empty text beforehand); rows in input order.
SELECT left(sha256(
{% for c in columns %}
    {{ "|| chr(31) || " if not loop.first }}{{ c }}
{% endfor %}
), $length) AS h
FROM {{ view }}
