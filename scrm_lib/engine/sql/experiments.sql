-- Experiments in the state store (scrm_lib.experiments.assignment): each person's
-- first exposure to an experiment. Declared in scrm_lib.schema.MARTS.

-- name: create_exposures
CREATE TABLE IF NOT EXISTS experiment_exposures (
    experiment VARCHAR NOT NULL,
    person_id VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (experiment, person_id)
)

-- name: count_exposures
SELECT count(*) FROM experiment_exposures

-- name: add_exposures
-- The columns travel as list parameters, unnested side by side into rows; a person
-- already exposed keeps the first exposure.
INSERT INTO experiment_exposures
SELECT
    unnest(CAST($experiment AS VARCHAR[])),
    unnest(CAST($person_id AS VARCHAR[])),
    unnest(CAST($variant AS VARCHAR[])),
    CAST($ts AS TIMESTAMPTZ)
ON CONFLICT DO NOTHING
