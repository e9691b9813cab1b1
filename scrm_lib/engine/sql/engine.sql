-- Statements the engine itself runs (and the examples in queries.py).
{% macro literal(text) %}'{{ text | replace("'", "''") }}'{% endmacro %}
{% macro ident(name) %}"{{ name | replace('"', '""') }}"{% endmacro %}

-- name: ping
SELECT 1 AS ok

-- name: utc
SET TimeZone = 'UTC'

-- name: tables
-- What SHOW TABLES lists: the tables and views of the current schema, temporary ones too.
SELECT DISTINCT table_name FROM information_schema.tables
WHERE table_schema = current_schema() AND table_catalog IN (current_database(), 'temp')
ORDER BY table_name

-- name: parquet_view
-- A table of a Parquet warehouse folder (engine/folder.py): its files as the manifest
-- lists them, each column cast to its recorded type (`types`, in the order of
-- `columns`; a same-type cast costs nothing);
-- no files: an empty view of the same columns. Views take no parameters: paths are
-- quoted here, once. Partition folders (ts_month=...) are layout, not columns.
CREATE OR REPLACE VIEW {{ ident(view) }} AS
SELECT
{% for column in columns %}
  CAST({% if files %}{{ ident(column) }}{% else %}NULL{% endif %} AS {{ types[loop.index0] }}) AS {{ ident(column) }}{{ "," if not loop.last }}
{% endfor %}
{% if files %}
FROM read_parquet([{% for f in files %}{{ literal(f) }}{{ ", " if not loop.last }}{% endfor %}], hive_partitioning = false)
{% else %}
LIMIT 0
{% endif %}
