-- The build log: builds, build_inputs, build_refused, build_steps, and the
-- rejects per reason. One reader (scrm_lib.warehouse.log.BuildLog) runs these
-- for `scrm status` and for the data-health report alike.

-- name: columns
SELECT column_name FROM information_schema.columns WHERE table_name = $table

-- name: last_build
-- "Last" = most recently finished; a build still running has no finished_at.
-- `sources` names, per wanted column, the column that holds it ('' = none: NULL).
SELECT
{% for col in columns %}
  {% set src = sources[loop.index0] %}
  {% if src %}"{{ src }}"{% else %}NULL{% endif %} AS "{{ col }}"{{ "," if not loop.last }}
{% endfor %}
FROM builds
ORDER BY coalesce(finished_at, started_at) DESC NULLS LAST, started_at DESC
LIMIT 1

-- name: count_builds
SELECT count(*) FROM builds

-- name: inputs
SELECT file, format, platform, rows_in, accepted, rejected, duplicates
FROM build_inputs
WHERE build_id IS NOT DISTINCT FROM $build_id
ORDER BY file

-- name: inputs_summed
-- Per file or per platform ({{ by }}); files that belong to no platform
-- (channels, consent lists) get a visible label.
WITH inputs AS (
  SELECT * REPLACE (coalesce(nullif(platform, ''), $no_platform) AS platform)
  FROM build_inputs
  WHERE build_id IS NOT DISTINCT FROM $build_id
)
{% if by == "platform" %}
SELECT platform, count(DISTINCT file)::BIGINT AS files,
{% else %}
SELECT file, any_value(format) AS format, any_value(platform) AS platform,
{% endif %}
  sum(rows_in)::BIGINT AS rows_in, sum(accepted)::BIGINT AS accepted,
  sum(rejected)::BIGINT AS rejected, sum(duplicates)::BIGINT AS duplicates
FROM inputs
{% if by == "platform" %}
GROUP BY platform ORDER BY platform
{% else %}
GROUP BY file ORDER BY platform, file
{% endif %}

-- name: refused
SELECT file, sha256, reason, refused_at
FROM build_refused
WHERE build_id IS NOT DISTINCT FROM $build_id
ORDER BY file

-- name: rejects_by_reason
-- With examples: the first $max_examples raw values and file:line places, by file and line.
SELECT reason, count(*)::BIGINT AS rows
{% if examples %}
  , count(DISTINCT file)::BIGINT AS files,
  list(DISTINCT "column" ORDER BY "column") AS columns,
  list(raw_value ORDER BY file, line)[1:$max_examples] AS example_values,
  list(file || ':' || line ORDER BY file, line)[1:$max_examples] AS example_lines
{% endif %}
FROM rejects
GROUP BY reason
ORDER BY rows DESC, reason

-- name: steps
SELECT step, status, seconds, rows, notes
FROM build_steps
WHERE build_id = $build_id
ORDER BY seq

-- name: last_step_build
SELECT build_id FROM build_steps ORDER BY seq DESC LIMIT 1

-- name: all_steps
SELECT * FROM build_steps
