-- Statements the engine itself runs (and the examples in queries.py).

-- name: ping
SELECT 1 AS ok

-- name: utc
SET TimeZone = 'UTC'

-- name: tables
-- What SHOW TABLES lists: the tables and views of the current schema, temporary ones too.
SELECT DISTINCT table_name FROM information_schema.tables
WHERE table_schema = current_schema() AND table_catalog IN (current_database(), 'temp')
ORDER BY table_name
