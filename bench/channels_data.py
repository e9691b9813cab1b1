"""A synthetic warehouse for the channels benchmark: numpy draws, DuckDB writes.

Building the real sample through ``scrm generate`` + ``ingest`` + ``build``
takes far longer than the channels step it feeds, so the benchmark writes the
canonical tables the channels code reads directly, with the schemas of
:data:`scrm_lib.schema.TABLES` (value and churn marts: only the columns read).

Per person: one or two accounts (~1.5 per person), ~5 events (adds and
follows carrying a 活码 ``state`` and staff, scans carrying a ``channel_code``,
group joins, page views, group-buys, carts), ~3 orders for the buyers
(paid / refunded / cancelled, Douyin orders with a 达人 or a live room, some
mini-program orders with a code), referrals, WeCom private messages, and the
value and churn scores. Unknown codes (not in ``channels``) are sprinkled in.

The file is cached by size and seed:
``bench/work/cache/channels_v<version>_<persons>_<seed>.duckdb``.

Examples
--------
>>> path = warehouse(20_000)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

CACHE = Path(__file__).resolve().parent / "work" / "cache"
#: Version of the generator: bump it when the data changes so stale caches are not read.
VERSION = 2
START = int(pd.Timestamp("2025-01-01", tz="UTC").timestamp())
SPAN = 540 * 86_400  # first sightings over 18 months
DAY = 86_400

PLATFORMS = np.array(["wecom", "wechat", "tmall", "douyin", "youzan"])
EVENT_TYPES = np.array(["qr_scan", "wecom_add", "wecom_follow", "group_join", "page_view",
                        "groupbuy_join", "cart_add", "subscribe"])  # fmt: skip
EVENT_P = [0.14, 0.10, 0.05, 0.14, 0.30, 0.08, 0.14, 0.05]
CHANNEL_TYPES = np.array(["活码", "海报", "门店", "广告投放", "社群"])
N_CODES, N_STAFF = 300, 80


def _codes(rng: np.random.Generator, n: int, known: int = N_CODES) -> np.ndarray:
    """``n`` channel codes, 2% of them unknown to the channels table."""
    idx = rng.integers(0, known, n)
    unknown = rng.random(n) < 0.02
    out = np.char.add("C", np.char.zfill(idx.astype(str), 4)).astype(object)
    out[unknown] = np.char.add("X", idx[unknown].astype(str))
    return out


def _influencers(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` Douyin 达人 IDs out of 200."""
    return np.char.add("D", rng.integers(0, 200, n).astype(str))


def generate(path: Path, persons: int, seed: int = 1) -> None:
    """Write the warehouse for ``persons`` persons to ``path`` (overwritten)."""
    from scrm_lib.schema import MARTS, TABLES

    rng = np.random.default_rng(seed)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'; SET enable_progress_bar = false")
    for name in ("accounts", "events", "orders", "referrals", "channels", "messages",
                 "person_accounts", "persons"):  # fmt: skip
        schema = TABLES[name] if name in TABLES else MARTS[name].schema
        cols = ", ".join(f'"{c}" {_duck_type(t)}' for c, t in schema.items())
        con.execute(f"CREATE TABLE {name} ({cols})")

    # accounts: every person one, half of them a second on another platform
    base = START + rng.integers(0, SPAN, persons)
    second = np.flatnonzero(rng.random(persons) < 0.5)
    acc_person = np.concatenate([np.arange(persons), second])
    n_acc = len(acc_person)
    acc_platform = rng.choice(len(PLATFORMS), n_acc, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    acc_seen = base[acc_person] + rng.integers(0, 120 * DAY, n_acc) * (np.arange(n_acc) >= persons)
    acc_code = np.where((acc_platform != 0) & (rng.random(n_acc) < 0.15), _codes(rng, n_acc), None)
    acc = pd.DataFrame({"i": np.arange(n_acc), "person": acc_person,
                        "platform": PLATFORMS[acc_platform], "seen": acc_seen,
                        "code": acc_code})  # fmt: skip
    con.register("acc", acc)
    con.execute("""
        INSERT INTO accounts BY NAME
        SELECT platform || ':' || i AS account_id, platform, 'n' || i AS native_id,
               'user ' || i AS display_name, to_timestamp(seen) AS first_seen,
               code AS channel_code, '{}' AS extras, 'bench' AS source_file FROM acc;
        INSERT INTO person_accounts BY NAME
        SELECT platform || ':' || i AS account_id, 'P' || lpad(person::VARCHAR, 8, '0')
               AS person_id FROM acc;
    """)
    con.execute("""
        INSERT INTO persons BY NAME
        SELECT 'P' || lpad(person::VARCHAR, 8, '0') AS person_id, count(*) AS n_accounts,
               string_agg(DISTINCT platform, ',') AS platforms,
               count(DISTINCT platform) AS n_platforms, to_timestamp(min(seen)) AS first_seen,
               to_timestamp(max(seen)) AS last_seen
        FROM acc GROUP BY person
    """)
    # the account of a person's i-th draw: the first, or the second when there is one
    has_second = np.full(persons, -1)
    has_second[second] = persons + np.arange(len(second))

    def account_of(person: np.ndarray) -> np.ndarray:
        alt = has_second[person]
        use_alt = (alt >= 0) & (rng.random(len(person)) < 0.5)
        return np.where(use_alt, alt, person)

    # events: ~5 per person, spread over the half year after the first sighting
    per = rng.poisson(5, persons)
    ev_person = np.repeat(np.arange(persons), per)
    n_ev = len(ev_person)
    ev_type = rng.choice(len(EVENT_TYPES), n_ev, p=EVENT_P)
    ev_ts = base[ev_person] + (rng.random(n_ev) ** 2 * 180 * DAY).astype(np.int64)
    coded = rng.random(n_ev) < 0.8
    ev = pd.DataFrame({"i": np.arange(n_ev), "acc": account_of(ev_person), "ts": ev_ts,
                       "type": EVENT_TYPES[ev_type],
                       "code": np.where(coded, _codes(rng, n_ev), ""),
                       "staff": rng.integers(0, N_STAFF, n_ev)})  # fmt: skip
    con.register("ev", ev)
    con.execute("""
        INSERT INTO events BY NAME
        SELECT 'e' || ev.i AS event_id, acc.platform || ':' || acc.i AS account_id,
               to_timestamp(ev.ts) AS ts, ev.type,
               CASE WHEN ev.type IN ('wecom_add', 'wecom_follow')
                      THEN json_object('staff', 'S' || ev.staff, 'state', ev.code)::VARCHAR
                    WHEN ev.type = 'qr_scan' THEN json_object('channel_code', ev.code)::VARCHAR
                    ELSE '{}' END AS attributes,
               'bench' AS source_file
        FROM ev JOIN acc ON acc.i = ev.acc
    """)
    con.unregister("ev")

    # orders: 55% of persons buy, 1 + geometric(0.2) orders each (~3 per person)
    buys = rng.random(persons) < 0.55
    n_orders = np.where(buys, rng.geometric(0.2, persons), 0)
    o_person = np.repeat(np.arange(persons), n_orders)
    n_o = len(o_person)
    status = rng.choice(["paid", "refunded", "cancelled", "pending"], n_o,
                        p=[0.88, 0.06, 0.04, 0.02])  # fmt: skip
    amount = np.round(10 + rng.gamma(2, 80, n_o), 2)
    partial = rng.random(n_o) < 0.3
    refund = np.where(status == "refunded", np.where(partial, np.round(amount / 2, 2), amount), 0)
    o_ts = base[o_person] + (rng.random(n_o) * 300 * DAY).astype(np.int64)
    o = pd.DataFrame({"i": np.arange(n_o), "acc": account_of(o_person), "ts": o_ts,
                      "status": status, "amount": amount, "refund": refund,
                      "code": np.where(rng.random(n_o) < 0.05, _codes(rng, n_o), None),
                      "influencer": np.where(rng.random(n_o) < 0.3, _influencers(rng, n_o), None),
                      "live": rng.random(n_o) < 0.2})  # fmt: skip
    con.register("o", o)
    con.execute("""
        INSERT INTO orders BY NAME
        SELECT CASE WHEN acc.platform = 'wecom' THEN 'youzan' ELSE acc.platform END AS platform,
               'o' || o.i AS order_id, '1' AS line_id, acc.platform || ':' || acc.i AS account_id,
               to_timestamp(o.ts - 300) AS created_at,
               CASE WHEN o.status IN ('paid', 'refunded') THEN to_timestamp(o.ts) END AS paid_at,
               o.amount::DECIMAL(18, 2) AS amount, 0::DECIMAL(18, 2) AS shipping,
               o.refund::DECIMAL(18, 2) AS refund_amount, o.status, o.status AS status_raw,
               1 AS quantity,
               CASE WHEN acc.platform IN ('youzan', 'wechat', 'wecom') THEN o.code END
                 AS channel_code,
               CASE WHEN acc.platform = 'douyin' THEN o.influencer END AS influencer_id,
               CASE WHEN acc.platform = 'douyin' THEN
                 CASE WHEN o.live THEN '直播' ELSE '商品卡' END END AS traffic_source,
               'bench' AS source_file, o.i AS source_line
        FROM o JOIN acc ON acc.i = o.acc
    """)
    con.unregister("o")

    # referrals: 3% of persons were invited by another person
    invited = np.flatnonzero(rng.random(persons) < 0.03)
    ref = pd.DataFrame({"invitee": invited, "inviter": rng.integers(0, persons, len(invited)),
                        "ts": base[invited] + rng.integers(0, 3 * DAY, len(invited))})  # fmt: skip
    con.register("ref", ref)
    con.execute("""
        INSERT INTO referrals BY NAME
        SELECT a.platform || ':' || a.i AS inviter_account_id,
               b.platform || ':' || b.i AS invitee_account_id, to_timestamp(ref.ts) AS ts,
               'invite' AS kind, 'spring' AS campaign, 'bench' AS source_file
        FROM ref JOIN acc a ON a.i = ref.inviter JOIN acc b ON b.i = ref.invitee
    """)
    con.unregister("ref")

    ch = pd.DataFrame({"i": np.arange(N_CODES), "type": rng.choice(CHANNEL_TYPES, N_CODES),
                       "campaign": rng.integers(0, 20, N_CODES),
                       "staff": rng.integers(0, N_STAFF, N_CODES),
                       "cost": np.round(rng.gamma(2, 2000, N_CODES), 2)})  # fmt: skip
    ch.loc[rng.random(N_CODES) < 0.1, "cost"] = np.nan  # a code without a cost
    con.register("ch", ch)
    con.execute("""
        INSERT INTO channels BY NAME
        SELECT 'C' || lpad(i::VARCHAR, 4, '0') AS channel_id, '渠道 ' || i AS name, type,
               'camp' || campaign AS campaign, 'S' || staff AS staff_id,
               cost::DECIMAL(18, 2) AS cost, TIMESTAMPTZ '2024-12-01 00:00:00+00' AS created_at,
               'bench' AS source_file FROM ch
    """)

    # WeCom private messages: ~2 per WeCom account, in and out
    wecom = np.flatnonzero(acc_platform == 0)
    m_acc = np.repeat(wecom, rng.poisson(2, len(wecom)))
    n_m = len(m_acc)
    msg = pd.DataFrame({"i": np.arange(n_m), "acc": m_acc,
                        "ts": acc_seen[m_acc] + rng.integers(0, 60 * DAY, n_m),
                        "out": rng.random(n_m) < 0.5,
                        "staff": rng.integers(0, N_STAFF, n_m)})  # fmt: skip
    con.register("msg", msg)
    con.execute("""
        INSERT INTO messages BY NAME
        SELECT 'm' || msg.i AS message_id, 'wecom:' || msg.acc AS account_id,
               to_timestamp(msg.ts) AS ts, 'wecom_private' AS channel,
               CASE WHEN msg.out THEN 'out' ELSE 'in' END AS direction,
               'S' || msg.staff AS staff_id, 'hi' AS text, 'bench' AS source_file FROM msg
    """)
    con.unregister("msg")

    scored = np.flatnonzero(buys)
    vp = pd.DataFrame({"p": scored, "clv": np.round(rng.gamma(2, 150, len(scored)), 2),
                       "p_alive": rng.random(len(scored)),
                       "churn": rng.random(len(scored))})  # fmt: skip
    con.register("vp", vp)
    con.execute("""
        CREATE TABLE value_persons AS
        SELECT 'P' || lpad(p::VARCHAR, 8, '0') AS person_id, clv, p_alive FROM vp;
        CREATE TABLE churn_scores AS
        SELECT 'P' || lpad(p::VARCHAR, 8, '0') AS person_id, churn AS churn_probability,
               CASE WHEN churn > 0.7 THEN 'high' WHEN churn > 0.4 THEN 'medium' ELSE 'low' END
                 AS risk_band FROM vp;
    """)
    con.close()


def _duck_type(t: object) -> str:
    """The DuckDB column type of an ibis type (the few the canonical tables use)."""
    name = str(t).lower().removeprefix("!")
    if name.startswith("timestamp"):
        return "TIMESTAMPTZ"
    if name.startswith("decimal"):
        return "DECIMAL(18, 2)"
    return {"string": "VARCHAR", "int64": "BIGINT", "float64": "DOUBLE",
            "boolean": "BOOLEAN"}[name]  # fmt: skip


def warehouse_path(persons: int, seed: int = 1, cache: Path = CACHE) -> Path:
    """Where the warehouse for ``persons`` and ``seed`` is cached."""
    return cache / f"channels_v{VERSION}_{persons}_{seed}.duckdb"


def warehouse(persons: int, seed: int = 1, cache: Path = CACHE) -> Path:
    """The cached warehouse file for ``persons`` and ``seed``, generated on first use."""
    path = warehouse_path(persons, seed, cache)
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        generate(tmp, persons, seed)
        tmp.rename(path)
    return path
