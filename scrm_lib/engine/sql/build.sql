-- A build's own statements: the settings of the file being built, the attached
-- stage file, staging a parse-cache entry straight from its Parquet files, and
-- the checkpoint before publishing.
{% macro literal(text) %}'{{ text | replace("'", "''") }}'{% endmacro %}
{% macro quoted(names) %}{% for c in names %}"{{ c }}"{{ ", " if not loop.last }}{% endfor %}{% endmacro %}

-- name: memory_limit
SET memory_limit = $limit

-- name: current_memory_limit
SELECT current_setting('memory_limit')

-- name: temp_directory
SET temp_directory = $path

-- name: any_row_order
-- Row order inside a table carries no meaning here; keeping it costs memory.
SET preserve_insertion_order = false

-- name: attach_stage
-- ATTACH takes no parameters: the path is quoted here, once.
ATTACH {{ literal(path) }} AS {{ db }}

-- name: detach_stage
DETACH {{ db }}

-- name: cached_files
-- The parse-cache entries a build reads its rows from (see stage_cached_file).
CREATE TABLE {{ db }}.main.stage_cached ("table" VARCHAR, seq BIGINT, path VARCHAR)

-- name: stage_cached_file
INSERT INTO {{ db }}.main.stage_cached VALUES ($table, $seq, $path)

-- name: staged_cached_files
SELECT "table", seq, path FROM {{ db }}.main.stage_cached ORDER BY seq, "table"

-- name: parquet_rows
-- Reads the file's footer: a truncated or foreign file fails here, before the build
-- depends on it.
SELECT count(*) FROM read_parquet($path)

-- name: cached_rows
-- A cache entry's table as stage rows, read where it lies. file_row_number: the row's
-- position in the file's table, as _row is for frames. read_parquet takes no
-- parameters in a view: the path is quoted here, once.
SELECT {{ quoted(columns) }}, CAST({{ seq }} AS BIGINT) AS {{ file_seq }},
  CAST(file_row_number AS BIGINT) AS {{ row }}
FROM read_parquet({{ literal(path) }}, file_row_number = true)

-- name: stage_rejects_parquet
-- A reject without a file is the staged file's.
INSERT INTO rejects ({{ quoted(columns) }})
SELECT {% for c in columns %}{% if c == "file" %}coalesce("file", $file){% else %}"{{ c }}"{% endif %}{{ ", " if not loop.last }}{% endfor %}

FROM read_parquet($path)

-- name: drop_column
ALTER TABLE {{ target }} DROP COLUMN "{{ column }}"

-- name: checkpoint
CHECKPOINT

-- name: published_relations
-- What a build publishes: the tables and views of the build's own file (not the
-- attached stage, not temporary ones, not ibis' in-memory frames).
SELECT table_name FROM information_schema.tables
WHERE table_catalog = current_database() AND table_schema = 'main'
  AND table_name NOT LIKE 'ibis\_%' ESCAPE '\'
ORDER BY table_name

-- name: describe
DESCRIBE {{ quoted([relation]) }}

-- name: count
SELECT count(*) FROM {{ quoted([relation]) }}

-- name: copy_parquet
-- One table into a folder of Parquet files; big ones split so that Spark reads them
-- in parallel. COPY takes no parameters: the path is quoted here, once.
COPY (SELECT * FROM {{ quoted([relation]) }}) TO {{ literal(path) }}
(FORMAT parquet, FILE_SIZE_BYTES '512MB')
