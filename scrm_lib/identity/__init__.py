"""OneID: explainable, reversible identity stitching across platforms.

One person behind a Tmall buyer, a Douyin buyer, a mini-program openid, a
WeCom contact and a Youzan member. The build step (:mod:`.step`) writes
``person_accounts`` (the contract every per-person number reads through
:func:`scrm_lib.warehouse.steps.person_map`), the ``persons`` mart, the merge ledger
``identity_edges``, ``identity_hubs`` and ``person_id_history``.

Stages, in order:

1. deterministic (:mod:`.graph`): accounts sharing a strong identifier
   (phone, unionid, e-mail, member number) are one person, except through
   hub identifiers shared by more accounts than a limit (the shop's test phone);
2. probabilistic (:mod:`.matching`): Splink (Fellegi–Sunter, EM-trained)
   over name (characters and pinyin), the visible digits of masked phones,
   city, address, birthday and e-mail, for accounts without a strong key;
3. overrides (:mod:`.overrides`): never-link / force-link pairs and
   account splits from the state store, respected by every rebuild;
4. stable ids (:mod:`.stable_ids`): a person keeps their id across builds.

Example
-------
>>> from scrm_lib.identity.config import identity_config
>>> identity_config({}).hub_limit
20
"""

from scrm_lib._api import public

__all__, __getattr__, __dir__ = public(
    __name__,
    {
        "timeline": ".person360:timeline",
        "explain_identity": ".ledger:explain",
        "evaluate_identity": ".evaluate:evaluate",
        "link_records": ".records:link_records",
        "dedupe_records": ".records:dedupe_records",
        "person_card": ".views:person_card",
        "search_persons": ".views:search",
        "identity_summary": ".views:summary",
        "add_override": ".overrides:add_override",
        "read_overrides": ".overrides:read_overrides",
    },
)
