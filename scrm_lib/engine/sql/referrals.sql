-- Referrals (scrm_lib.social.referrals.graph): the transitive closure of the person-level
-- referral graph, the one thing ibis cannot say. Edges come from a table the caller names
-- ({{ edges }}: grp, src, dst); a group (a campaign, or one group for the whole graph)
-- keeps its own closure.
--
-- USING KEY keeps one row per (grp, ancestor, descendant), and a pair already reached is
-- never extended again, so a ring (A -> B -> A, which OneID merges can create) ends after
-- one turn; breadth-first order makes the kept depth the shortest.

-- name: closure
WITH RECURSIVE e AS (
    SELECT DISTINCT grp, src, dst FROM {{ edges }}
),
reach(grp, ancestor_id, descendant_id, depth) USING KEY (grp, ancestor_id, descendant_id) AS (
    SELECT grp, src, dst, 1 FROM e
    UNION
    SELECT r.grp, r.ancestor_id, e.dst, r.depth + 1
    FROM reach AS r
    JOIN e ON e.grp = r.grp AND e.src = r.descendant_id
    LEFT JOIN recurring.reach AS seen
        ON seen.grp = r.grp AND seen.ancestor_id = r.ancestor_id AND seen.descendant_id = e.dst
    WHERE seen.descendant_id IS NULL
)
SELECT grp, ancestor_id, descendant_id, CAST(depth AS BIGINT) AS depth FROM reach
