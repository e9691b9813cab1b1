-- The state store (scrm_lib.access.state): what survives rebuilds. The audit
-- log, the files `scrm ingest` refused, failed dashboard logins.

-- name: create_audit
CREATE TABLE IF NOT EXISTS audit (
    audit_id VARCHAR PRIMARY KEY,
    ts TIMESTAMPTZ NOT NULL,
    username VARCHAR NOT NULL,
    role VARCHAR,
    action VARCHAR NOT NULL,
    what VARCHAR NOT NULL,
    rows BIGINT,
    build_id VARCHAR,
    detail VARCHAR
)

-- name: create_refused_files
CREATE TABLE IF NOT EXISTS refused_files (
    file VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    sha256 VARCHAR,
    reason VARCHAR NOT NULL,
    refused_at TIMESTAMPTZ NOT NULL
)

-- name: create_login_failures
-- Per user name and per client address: kept here, not in the browser, so a
-- new session or a cleared cookie does not reset them.
CREATE TABLE IF NOT EXISTS login_failures (
    scope VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    failures INTEGER NOT NULL,
    last_failure TIMESTAMPTZ,
    locked_until TIMESTAMPTZ,
    locks INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
)

-- name: add_audit
INSERT INTO audit VALUES
    ($audit_id, $ts, $username, $role, $action, $what, $rows, $build_id, $detail)

-- name: audit
SELECT * FROM audit ORDER BY ts DESC LIMIT $limit

-- name: forget_refused_file
DELETE FROM refused_files WHERE file = $file

-- name: add_refused
INSERT INTO refused_files VALUES ($file, $name, $sha256, $reason, $refused_at)

-- name: forget_refused
-- Refusals of files since accepted: by file name or by content.
DELETE FROM refused_files WHERE list_contains($names, name) OR list_contains($sha256s, sha256)

-- name: refused
SELECT file, name, sha256, reason, refused_at FROM refused_files ORDER BY refused_at DESC

-- name: login_failures
-- Epoch seconds: fetching TIMESTAMPTZ as Python objects would need pytz.
SELECT scope, key, failures, epoch(last_failure), epoch(locked_until), locks
FROM login_failures
WHERE list_contains($keys, scope || chr(0) || key)

-- name: forget_login_failures
DELETE FROM login_failures WHERE scope = $scope AND key = $key

-- name: add_login_failures
INSERT INTO login_failures VALUES ($scope, $key, $failures, $last_failure, $locked_until, $locks)
