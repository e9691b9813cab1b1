-- Statements the engine itself runs (and the examples in queries.py).

-- name: ping
SELECT 1 AS ok

-- name: utc
SET TimeZone = 'UTC'
