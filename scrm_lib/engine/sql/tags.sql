-- Person tags (scrm_lib.tags.registry): every capability's tags in one mart,
-- person_tags, declared in scrm_lib.schema.MARTS. A capability's rows are replaced
-- as a whole each time it writes, so a rerun of its step leaves one copy.

-- name: delete_source
DELETE FROM person_tags WHERE source = $source
