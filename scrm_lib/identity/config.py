"""Identity configuration: the ``[identity]`` section of ``scrm.toml``, with defaults here.

Example
-------
>>> cfg = identity_config({"identity": {"hub_limit": 50}})
>>> cfg.hub_limit, "phone" in cfg.link_kinds
(50, True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from scrm_lib.errors import ConfigError

#: Identifier kinds that join accounts on their own (an exact shared value).
LINK_KINDS = ("phone", "unionid", "email", "member_no", "openid", "external_userid")
#: Kinds that never join accounts alone: weak, shared or someone else's.
#: They still feed the probabilistic stage (name, masked phone, city, address, birthday).
NEVER_ALONE = (
    "phone_masked",
    "alipay_masked",
    "name",
    "nickname",
    "address",
    "city",
    "birthday",
    "douyin_key",
    "device",
    "recipient_phone",  # a gift's recipient, not the buyer
)


@dataclass(frozen=True)
class IdentityConfig:
    """Resolved identity settings.

    Parameters
    ----------
    link_kinds
        Identifier kinds whose shared exact value joins two accounts.
    hub_limit
        An identifier value shared by more accounts than this is a hub: flagged
        in ``identity_hubs`` and never used to link (the shop's test phone).
    hub_platform_limit
        A linking value held by more accounts of one platform than this is a hub
        too: one person seldom has more than a couple of accounts per platform,
        so a phone on five mini-program accounts is typed, not owned. For masked
        phones (seven visible digits, shared by chance in a big base) both limits
        are the least: a masked value is a hub only beyond what chance explains
        (:func:`.matching.masked_hubs`).
    account_hub_limit
        An account whose orders went to more distinct recipients than this (by
        name, by phone, or by address, each counted apart) is an account-key hub:
        a key typed by staff for many buyers (a counter phone as the Youzan buyer
        phone, a store's shared Tmall login). Reported in ``identity_hubs``, never
        merged, and each of its orders goes to its own recipient's evidence
        (:mod:`.account_hubs`). 10: a customer who sends gifts to a handful of
        people (5 recipients and themselves, a home and an office address) stays
        well under it; a counter typing its phone for walk-ins passes it in days.
    account_hub_device_limit
        The same for distinct devices behind one account: a person has a phone, a
        tablet, a laptop, and changes them now and then; a counter terminal logs
        in for everyone.
    probabilistic
        Run the Splink stage.
    threshold
        Match probability at or above which a probabilistic pair joins the graph.
        0.8: at a million persons the pairs between 0.5 and 0.8 are mostly a
        masked phone and a city alone, whose seven visible digits collide
        (precision 0.990 at 0.5, 0.9995 at 0.8; recall 0.847 and 0.807); at
        5,000 persons the two thresholds differ by one pair in a thousand.
    max_pairs
        Random pairs sampled to estimate Splink's u probabilities.
    seed
        Seed of that sample (reproducible builds).
    one_per_platform
        A probabilistic match joins only when each side is the other's unique
        best candidate on every platform the other holds (a person rarely has
        two accounts on one platform); ambiguous matches are kept in the
        ledger, unused.
    rounds
        Prediction rounds of the probabilistic stage: each later round scores
        the persons merged so far with the model of the first (pooled evidence
        meets new candidates).
    em_max_pairs
        Most blocked pairs one EM pass trains on; above it Splink samples records
        (hash-based, reproducible). Blocking on city gives ~n²/(2·cities) pairs:
        16 billion at a million persons, which is what exhausted memory.
    train_max_records
        EM trains on whole name groups (accounts sharing a name's pinyin) sampled to
        about this many records; λ and u always come from all of them. At 20,000 the
        city block holds about 10⁷ pairs, so Splink need not sample records again
        (``em_max_pairs``), which would break up the matches.
    max_block
        Largest block any blocking key compares whole. The name block (a name's
        pinyin) is bounded at a hundredth of it (:data:`.matching.NAME_BLOCK_DIVISOR`),
        and so are the keys on one syllable of a name: a bigger one (a common name:
        张伟) is split by city, then by birthday; one still bigger is left out of name
        blocking (among records sharing a common name's sound, the name alone is no
        one's unique best match). Every other key
        (:data:`.matching.BLOCK_KEYS`: masked phone, address, name + birthday,
        name + address numbers, surname + birthday, address numbers + city, …)
        drops its blocks above this size, so a common name's pairs still meet on
        a key that pairs it with something rarer.
    splink_memory_limit
        DuckDB memory limit of Splink's private database (it spills to a
        temporary directory above it); the warehouse connection has its own.
    """

    link_kinds: tuple[str, ...] = LINK_KINDS
    hub_limit: int = 20
    hub_platform_limit: int = 3
    account_hub_limit: int = 10
    account_hub_device_limit: int = 5
    probabilistic: bool = True
    threshold: float = 0.8
    max_pairs: float = 2e6
    seed: int = 42
    one_per_platform: bool = True
    rounds: int = 1
    em_max_pairs: float = 1e7
    train_max_records: int = 20_000
    max_block: int = 1000
    splink_memory_limit: str = "2GB"


def identity_config(extra: dict[str, Any] | None) -> IdentityConfig:
    """Read ``extra["identity"]`` (from ``scrm.toml``) over the defaults, validated."""
    raw = dict((extra or {}).get("identity", {}) or {})
    known = {f.name for f in fields(IdentityConfig)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"[identity] unknown setting {unknown[0]!r}; known: {sorted(known)}")
    if "link_kinds" in raw:
        kinds = raw["link_kinds"]
        if isinstance(kinds, str) or not all(isinstance(k, str) for k in kinds):
            raise ConfigError(f"[identity] link_kinds must be a list of kinds, not {kinds!r}")
        bad = [k for k in kinds if k in ("recipient_phone", "phone_masked")]
        if bad:
            raise ConfigError(f"[identity] link_kinds: {bad[0]!r} must never link alone")
        raw["link_kinds"] = tuple(kinds)
    if "hub_limit" in raw and (not isinstance(raw["hub_limit"], int) or raw["hub_limit"] < 2):
        raise ConfigError(f"[identity] hub_limit must be an integer ≥ 2, not {raw['hub_limit']!r}")
    if "hub_platform_limit" in raw and (
        not isinstance(raw["hub_platform_limit"], int) or raw["hub_platform_limit"] < 1
    ):
        bad = raw["hub_platform_limit"]
        raise ConfigError(f"[identity] hub_platform_limit must be an integer ≥ 1, not {bad!r}")
    for key, low in (("account_hub_limit", 2), ("account_hub_device_limit", 1)):
        if key in raw and (
            isinstance(raw[key], bool) or not isinstance(raw[key], int) or raw[key] < low
        ):
            raise ConfigError(f"[identity] {key} must be an integer ≥ {low}, not {raw[key]!r}")
    if "rounds" in raw and (not isinstance(raw["rounds"], int) or not 1 <= raw["rounds"] <= 5):
        raise ConfigError(f"[identity] rounds must be an integer in 1..5, not {raw['rounds']!r}")
    for key in ("em_max_pairs", "max_block", "train_max_records"):
        if key in raw and (
            isinstance(raw[key], bool) or not isinstance(raw[key], (int, float)) or raw[key] < 2
        ):
            raise ConfigError(f"[identity] {key} must be a number ≥ 2, not {raw[key]!r}")
    if "splink_memory_limit" in raw and not re.fullmatch(
        r"\d+(\.\d+)?\s*[KMGT]i?B", str(raw["splink_memory_limit"])
    ):
        raise ConfigError(
            "[identity] splink_memory_limit must look like '2GB', "
            f"not {raw['splink_memory_limit']!r}"
        )
    if "threshold" in raw and not (0.0 < float(raw["threshold"]) < 1.0):
        raise ConfigError(f"[identity] threshold must be in (0, 1), not {raw['threshold']!r}")
    return IdentityConfig(**raw)
