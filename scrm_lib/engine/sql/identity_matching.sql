-- The probabilistic stage's records (scrm_lib.identity.matching): one Splink record
-- per account or per deterministic component, and the masked phones left out as hubs.

-- One record per account with a name, a name-like nickname or a masked phone.
{% macro records() -%}
WITH mphone AS (
    SELECT account_id, min(m) AS mphone FROM _identity_masks
    WHERE m NOT IN (SELECT m FROM _mphone_hubs) GROUP BY account_id
),
-- surnames seen in typed names: a WeChat nickname of two or three Han characters
-- starting with one of them (常见: the nickname is the real name) stands in for a name
surnames AS (
    SELECT left(value, 1) AS s FROM identifiers
    WHERE kind = 'name' AND regexp_full_match(value, '\p{Han}{2,4}')
    GROUP BY 1 HAVING count(*) >= 2
),
nick AS (
    SELECT account_id, min(value) AS nick_name FROM identifiers
    WHERE kind = 'nickname' AND regexp_full_match(value, '\p{Han}{2,3}')
      AND left(value, 1) IN (SELECT s FROM surnames)
    GROUP BY 1
),
-- a nickname that is a given name with a pet prefix or emoji (小芳, 阿伟, 🌸欣怡): one
-- or two Han characters once those go
given AS (
    SELECT account_id, min(g) AS nick_given FROM (
        SELECT account_id,
            regexp_replace(regexp_replace(value, '[^\p{Han}]', '', 'g'), '^[小阿]', '') AS g
        FROM identifiers WHERE kind = 'nickname'
    ) WHERE regexp_full_match(g, '\p{Han}{1,2}') GROUP BY 1
),
one AS (
    SELECT account_id,
        min(value) FILTER (WHERE kind = 'name') AS name,
        min(value) FILTER (WHERE kind = 'city') AS city,
        min(regexp_replace(value, '\s+', '', 'g')) FILTER (WHERE kind = 'address') AS address,
        min(value) FILTER (WHERE kind = 'birthday') AS birthday,
        min(lower(value)) FILTER (WHERE kind = 'email') AS email
    -- only the kinds read here: the aggregate's expressions ran on every identifier
    FROM identifiers WHERE kind IN ('name', 'city', 'address', 'birthday', 'email')
    GROUP BY account_id
)
SELECT a.account_id AS unique_id, split_part(a.account_id, ':', 1) AS platform,
    coalesce(one.name, nick.nick_name) AS name,
    (one.name IS NULL AND nick.nick_name IS NOT NULL)::INTEGER AS name_nick, mphone.mphone,
    coalesce(one.city, nullif(regexp_extract(one.address, '^(?:[^省]+省)?([^省市]+市)', 1), ''))
        AS city,
    one.address, one.birthday, one.email,
    CASE WHEN one.name IS NULL AND nick.nick_name IS NULL THEN given.nick_given END AS nick_given
FROM accounts a
LEFT JOIN one USING (account_id)
LEFT JOIN mphone USING (account_id)
LEFT JOIN nick USING (account_id)
LEFT JOIN given USING (account_id)
WHERE one.name IS NOT NULL OR mphone.mphone IS NOT NULL OR nick.nick_name IS NOT NULL
{%- endmacro %}

-- What the comparisons derive from a name (the given name: matching.given_name, with
-- $compound the compound surnames) and from its pinyin (the words sorted).
{% macro name_fields(name, name_py) -%}
    CASE WHEN regexp_full_match({{ name }}, '[\x{4e00}-\x{9fff}]{2,4}') THEN nullif(
        CASE WHEN list_contains($compound, left({{ name }}, 2)) AND length({{ name }}) >= 3
            THEN substr({{ name }}, 3) ELSE substr({{ name }}, 2) END, '')
    END AS name_given,
    array_to_string(list_sort(string_split({{ name_py }}, ' ')), ' ') AS name_sorted,
{%- endmacro %}

-- An address's numbers and its text without them (matching.address_key); `odd`: the
-- joined row of the few addresses whose digits or spaces are not ASCII, computed in
-- Python (`odd_key` null where there is none).
{% macro address_fields(address, odd, odd_key) -%}
    CASE WHEN {{ odd_key }} IS NOT NULL THEN {{ odd }}.addr_key
        ELSE nullif(array_to_string(regexp_extract_all({{ address }}, '[0-9]+'), '|'), '')
    END AS addr_key,
    CASE WHEN {{ odd_key }} IS NOT NULL THEN {{ odd }}.addr_text
        ELSE nullif(regexp_replace({{ address }}, '[0-9\t\n\v\f\r \x{1c}-\x{1f}]+', '', 'g'), '')
    END AS addr_text,
{%- endmacro %}

-- Splitting name blocks (matching.name_blocks): a key shared by more than `bound`
-- records gets the city appended, then the birthday; a block still over `bound` (or a
-- record lacking the field to split on) has no key. `big`: the record was split.
{% macro split_name_key(base, bound) -%}
(WITH k0 AS (
    SELECT _row, {{ base }} AS k, city, birthday FROM r
), c0 AS (
    SELECT *, CASE WHEN k IS NOT NULL THEN count(*) OVER (PARTITION BY k) END AS n FROM k0
), k1 AS (
    SELECT _row, n > {{ bound }} AS over1,
        CASE WHEN n > {{ bound }} THEN k || '|' || city ELSE k END AS k, birthday FROM c0
), c1 AS (
    SELECT *, CASE WHEN k IS NOT NULL THEN count(*) OVER (PARTITION BY k) END AS n FROM k1
), k2 AS (
    SELECT _row, over1, n > {{ bound }} AS over2,
        CASE WHEN n > {{ bound }} THEN k || '|' || birthday ELSE k END AS k FROM c1
), c2 AS (
    SELECT *, CASE WHEN k IS NOT NULL THEN count(*) OVER (PARTITION BY k) END AS n FROM k2
)
SELECT _row, CASE WHEN n <= {{ bound }} THEN k END AS k,
    coalesce(over1, false) OR coalesce(over2, false) AS big
FROM c2)
{%- endmacro %}

-- name: keep_masks
-- Every phone as its visible digits (138****5678), masked or full, per account: read by
-- masked_hubs and by the records (kept: two scans of the identifiers each).
CREATE OR REPLACE TEMP TABLE _identity_masks AS
SELECT account_id, value AS m FROM identifiers
WHERE kind IN ('phone_masked', 'alipay_masked')
  AND regexp_full_match(value, '1[0-9]{2}\*{4}[0-9]{4}')
UNION ALL
SELECT account_id, substr(value, 4, 3) || '****' || substr(value, 11, 4) FROM identifiers
WHERE kind IN ('phone', 'recipient_phone') AND regexp_full_match(value, '\+861[0-9]{10}')

-- name: mphone_counts
-- Accounts per visible-digit phone value and platform, and the prefix (138): what
-- masked_hubs compares with chance.
CREATE OR REPLACE TEMP TABLE _mphone_counts AS
SELECT m, left(m, 3) AS prefix, split_part(account_id, ':', 1) AS platform,
    count(DISTINCT account_id) AS n
FROM _identity_masks GROUP BY ALL

-- name: mphone_prefixes
SELECT prefix, platform, sum(n)::DOUBLE AS total, count(*) AS k
FROM _mphone_counts GROUP BY ALL

-- name: mphone_hubs
-- Masked values over the chance limits per prefix and platform (_mphone_lim) or per
-- prefix (_mphone_lim_all), both registered by the caller.
CREATE OR REPLACE TEMP TABLE _mphone_hubs AS
WITH v AS (
    SELECT c.m, any_value(c.prefix) AS prefix, sum(c.n)::BIGINT AS n_accounts,
        max(c.n)::BIGINT AS most_on_one_platform,
        max(c.n - l.lim) AS over_one, any_value(l.lim) AS lim
    FROM _mphone_counts c JOIN _mphone_lim l USING (prefix, platform)
    GROUP BY c.m
)
SELECT v.m, v.n_accounts, v.most_on_one_platform, v.lim AS limit_one_platform,
    a.lim_all AS limit_all
FROM v JOIN _mphone_lim_all a USING (prefix)
WHERE v.over_one > 0 OR v.n_accounts > a.lim_all
ORDER BY v.n_accounts DESC, v.m

-- name: mphone_hub_rows
SELECT * FROM _mphone_hubs

-- name: keep_account_records
-- The records of every account, kept for the statements below (read once a build).
CREATE OR REPLACE TEMP TABLE _identity_account_records AS {{ records() }}

-- name: record_names
SELECT DISTINCT name FROM _identity_account_records WHERE name IS NOT NULL

-- name: odd_record_addresses
SELECT unique_id, address FROM _identity_account_records WHERE regexp_matches(address, $chars)

-- name: add_derived_fields
-- The records with each name's pinyin (_identity_name_py: name, name_py, computed by the
-- caller for the names of record_names) and what the comparisons derive from the name
-- and the address (_identity_addr_py: unique_id, addr_key, addr_text of the rows of
-- odd_record_addresses), once per account: the components pool them with their fields.
CREATE OR REPLACE TEMP TABLE _identity_account_records AS
SELECT r.*, p.name_py,
    {{ name_fields("r.name", "p.name_py") }}
    {{ address_fields("r.address", "a", "a.unique_id") }}
FROM _identity_account_records r
-- ON, not USING: Spark would put the key first in r.* (the records' column order)
LEFT JOIN _identity_name_py p ON p.name = r.name
LEFT JOIN _identity_addr_py a ON a.unique_id = r.unique_id

-- name: account_records
SELECT * FROM _identity_account_records ORDER BY unique_id

-- name: component_records
-- One record per component (_identity_components: account_id, component): each
-- field's value on its smallest account that has one; platform lists the platforms of
-- all its accounts (SMS contact points are not accounts). An account alone in its
-- component is its own record (most are: pooling them all took most of the time).
WITH sizes AS (
    SELECT component, count(*) AS n FROM _identity_components GROUP BY component
),
keyed AS (
    SELECT coalesce(c.component, r.unique_id) AS pid, coalesce(s.n, 1) AS n, r.*
    FROM _identity_account_records r
    LEFT JOIN _identity_components c ON c.account_id = r.unique_id
    LEFT JOIN sizes s ON s.component = c.component
),
plats AS (
    SELECT component AS pid, string_agg(DISTINCT p, ',' ORDER BY p) AS plats
    FROM (
        SELECT c.component, split_part(c.account_id, ':', 1) AS p
        FROM _identity_components c JOIN sizes s USING (component) WHERE s.n > 1
    )
    WHERE p <> 'phone' GROUP BY 1
),
pooled AS (
    SELECT pid,
        arg_min(platform, unique_id) AS platform,
        -- a typed name wins over a name-like nickname of the same person
        arg_min(
            {'name': name, 'name_nick': name_nick, 'name_py': name_py,
             'name_given': name_given, 'name_sorted': name_sorted},
            name_nick::VARCHAR || unique_id
        ) FILTER (WHERE name IS NOT NULL) AS nm,
        arg_min(mphone, unique_id) FILTER (WHERE mphone IS NOT NULL) AS mphone,
        arg_min(city, unique_id) FILTER (WHERE city IS NOT NULL) AS city,
        -- the derived fields follow their name and address (a struct: arg_min skips a null
        -- argument, and a name's given name or an address's numbers may be null)
        arg_min({'address': address, 'addr_key': addr_key, 'addr_text': addr_text}, unique_id)
            FILTER (WHERE address IS NOT NULL) AS ad,
        arg_min(birthday, unique_id) FILTER (WHERE birthday IS NOT NULL) AS birthday,
        arg_min(email, unique_id) FILTER (WHERE email IS NOT NULL) AS email,
        arg_min(nick_given, unique_id) FILTER (WHERE nick_given IS NOT NULL) AS nick_given
    FROM keyed WHERE n > 1 GROUP BY pid
)
SELECT * FROM (
    SELECT pooled.pid AS unique_id, coalesce(plats.plats, pooled.platform) AS platform,
        nm.name, nm.name_nick, mphone, city, ad.address, birthday, email,
        -- a person with a typed name is compared by it
        CASE WHEN nm.name IS NULL THEN nick_given END AS nick_given, nm.name_py, nm.name_given,
        nm.name_sorted, ad.addr_key, ad.addr_text
    FROM pooled LEFT JOIN plats USING (pid)
    UNION ALL
    SELECT pid, platform, name, CASE WHEN name IS NOT NULL THEN name_nick END, mphone, city,
        address, birthday, email, nick_given, name_py, name_given, name_sorted, addr_key,
        addr_text
    FROM keyed WHERE n = 1
)
ORDER BY unique_id

-- name: block_odd_addresses
-- Records whose address holds a character that Python's re takes for a digit or a space
-- (or that NFKC makes one): $chars, a class of them; matching.address_key's own path.
SELECT _row FROM _identity_block_input WHERE regexp_matches(address, $chars)

-- name: splink_records
-- The records Splink compares (matching._SplinkInput), made in its own connection from
-- _identity_block_input (_row, unique_id, the features as text, …): the `columns` it
-- names and what the comparisons derive: the given name, the name's words sorted, an
-- address's numbers and its text without them (_identity_addr_py: the few addresses
-- whose digits or spaces are not ASCII, computed in Python); `names` or `address` is
-- "given" when the input carries those fields already (RecordSource). `row_ids`: Splink's
-- unique_id is the input's _row (the prediction joins its pairs on integers) and
-- _ord the rank of the record's own id (the pairs' order); else the record's own id
-- (training samples by it).
CREATE OR REPLACE TABLE identity_records AS
SELECT
{% if row_ids %}
    b._row AS unique_id, row_number() OVER (ORDER BY b.unique_id) AS _ord,
{% else %}
    b.unique_id,
{% endif %}
{% for c in columns %}
    b."{{ c }}",
{% endfor %}
{% if names == "given" %}
    b.name_given, b.name_sorted,
{% elif names %}
    {{ name_fields("b.name", "b.name_py") }}
{% endif %}
{% if address == "given" %}
    b.addr_key, b.addr_text,
{% elif address %}
    {{ address_fields("b.address", "p", "p._row") }}
{% endif %}
FROM _identity_block_input b
{% if address and address != "given" %}
LEFT JOIN _identity_addr_py p USING (_row)
{% endif %}

-- name: name_blocks
-- The name block of each record (matching.name_blocks) beside identity_records (made
-- with row_ids): `big` marks a record whose common name was split.
CREATE OR REPLACE TEMP TABLE _identity_name_blocks AS
WITH r AS (SELECT _row, name_py, city, birthday FROM _identity_block_input)
SELECT * FROM {{ split_name_key("name_py", name_bound) }}

-- name: name_left_out
-- Records of a common name that no name block holds, per name (for the log).
SELECT b.name_py, count(*) AS n
FROM _identity_name_blocks nb JOIN _identity_block_input b USING (_row)
WHERE nb.big AND nb.k IS NULL
GROUP BY 1 ORDER BY n DESC, 1

-- name: candidate_pairs
-- The pairs Splink scores (join_key_l < join_key_r by the records' own ids): every two
-- records sharing a blocking key whose block holds 2 to its bound records, each pair
-- once (match_key: the first key in rule order it shares). `keys`: blocking key → (parts,
-- bound, rule number); `name_key`: the rule number of the name block, if any. The keys
-- are counted in one long narrow table.
CREATE OR REPLACE TABLE identity_pairs AS
WITH r AS MATERIALIZED (
    SELECT s.unique_id AS _row, s._ord,
{% for c in parts %}
        b."{{ c }}",
{% endfor %}
        nullif(string_split(b.name_py, ' ')[1], '') AS name_first,
        nullif(string_split(b.name_py, ' ')[-1], '') AS name_last,
{% if address %}
        s.addr_key
{% else %}
        NULL::VARCHAR AS addr_key
{% endif %}
    FROM identity_records s JOIN _identity_block_input b ON b._row = s.unique_id
),
long AS (
{% if name_key is not none %}
    SELECT r._row, r._ord, {{ name_key }} AS key, {{ name_bound }} AS cap, nb.k
    FROM _identity_name_blocks nb JOIN r USING (_row) WHERE nb.k IS NOT NULL
    UNION ALL
{% endif %}
{% for key, spec in keys.items() %}
    SELECT _row, _ord, {{ spec[2] }} AS key, {{ spec[1] }} AS cap,
        {% for p in spec[0] %}{{ p }}{% if not loop.last %} || '|' || {% endif %}{% endfor %} AS k
    FROM r
    -- a record lacking a part has no key: most records lack a birthday or an address
    WHERE {% for p in spec[0] %}{{ p }} IS NOT NULL{% if not loop.last %} AND {% endif %}{% endfor +%}
    {% if not loop.last %}UNION ALL{% endif %}
{% endfor %}
),
kept AS MATERIALIZED (
    SELECT long._row, long._ord, long.key, long.k FROM long JOIN (
        SELECT key, k FROM long
        GROUP BY key, k HAVING count(*) BETWEEN 2 AND any_value(cap)
    ) USING (key, k)
)
SELECT min(a.key)::VARCHAR AS match_key, a._row AS join_key_l, b._row AS join_key_r
FROM kept a JOIN kept b ON a.key = b.key AND a.k = b.k AND a._ord < b._ord
GROUP BY a._row, b._row

-- name: count_pairs
SELECT count(*) FROM identity_pairs
