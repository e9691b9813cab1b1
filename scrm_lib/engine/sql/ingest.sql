-- Column-wise work ingest hands to DuckDB (scrm_lib.ingest): rendering unmapped source
-- columns as JSON, vectorized, on a registered Arrow table.

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
