-- Saved segments in the state store (scrm_lib.segments.definitions): one row per
-- saved version, and the persons each version held when it was saved. Declared in
-- scrm_lib.schema.MARTS (segments, segment_members).

-- name: create_segments
CREATE TABLE IF NOT EXISTS segments (
    name VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    author VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    description VARCHAR,
    definition VARCHAR NOT NULL,
    build_id VARCHAR,
    persons BIGINT,
    PRIMARY KEY (name, version)
)

-- name: create_segment_members
CREATE TABLE IF NOT EXISTS segment_members (
    name VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    person_id VARCHAR NOT NULL
)

-- name: next_version
SELECT coalesce(max(version), 0) + 1 FROM segments WHERE name = $name

-- name: add_version
INSERT INTO segments
VALUES ($name, $version, $author, $created_at, $description, $definition, $build_id, $persons)

-- name: add_members
-- The member ids travel as one list parameter, unnested into rows.
INSERT INTO segment_members
SELECT $name, $version, unnest(CAST($person_ids AS VARCHAR[]))

-- name: latest
-- The latest version of every saved segment.
SELECT name, version, author, created_at, persons, build_id, description, definition
FROM segments
QUALIFY version = max(version) OVER (PARTITION BY name)
ORDER BY name

-- name: history
SELECT name, version, author, created_at, persons, build_id, description, definition
FROM segments
WHERE name = $name
ORDER BY version

-- name: members
SELECT person_id FROM segment_members WHERE name = $name AND version = $version
ORDER BY person_id
