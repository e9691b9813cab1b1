"""The sample generator writes the contract's files, deterministic, with a truth that holds.

Exports come in dialects (``scrm_lib.sample.dialects``); ``truth/noise.json``
records each file's, and :func:`_frame` reads a file back under its
documented column names.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from scrm_lib.errors import ConfigError
from scrm_lib.ingest import parse_file
from scrm_lib.ingest.keys import douyin_buyer_key
from scrm_lib.ingest.presets import load_preset, resolve_columns
from scrm_lib.ingest.vocabulary import canonical_event_types
from scrm_lib.ingest.xiaohongshu import buyer_key
from scrm_lib.sample import dialects as D
from scrm_lib.sample.generator import generate
from tests.ingest.conftest import (  # the contract, stated once for tests
    DOUYIN_HEADER,
    TMALL_HEADER,
    YOUZAN_HEADER,
)

N = 2000
TEST_PHONE = "13800138000"

TABLE_HEADERS = {"tmall_orders_": TMALL_HEADER, "youzan_orders_": YOUZAN_HEADER}
TABLE_HEADERS["douyin_orders_"] = DOUYIN_HEADER
CSV_HEADERS = {
    "staff.csv": ["userid", "name", "department"],
    "channels.csv": ["渠道码", "渠道名称", "渠道类型", "活动", "导购", "成本", "创建时间"],
    "touches.csv": ["活动", "渠道", "用户类型", "用户标识", "发送时间", "是否打开", "是否点击"],
    "consent.csv": ["用户类型", "用户标识", "渠道", "是否同意", "时间"],
    "experiment_assignments.csv": ["experiment", "unit_type", "unit_id", "variant", "assigned_at"],
    "survey_answers.csv": ["评价ID", "评价时间", "客户ID", "接待人员", "满意度", "推荐意愿(0-10)"],
}
JSONL_KEYS = {
    "miniapp_users.jsonl": {
        "openid",
        "nickname",
        "gender",
        "city",
        "subscribe_time",
        "subscribe_scene",
        "qr_scene_str",
    },
    "miniapp_orders_": {
        "order_no",
        "openid",
        "create_time",
        "pay_time",
        "total_fee",
        "status",
        "refund_fee",
        "items",
        "groupbuy_id",
        "channel_code",
    },
    "miniapp_events_": {"openid", "event", "page", "ts", "props"},
    "miniapp_referrals.jsonl": {"inviter_openid", "invitee_openid", "ts", "kind", "campaign"},
    "wecom_contacts.jsonl": {"errcode", "errmsg", "external_contact", "follow_user"},
    "wecom_events.jsonl": {"ToUserName", "CreateTime", "Event", "ChangeType"},
    "wecom_chat_archive.jsonl": {
        "msgid",
        "action",
        "from",
        "tolist",
        "roomid",
        "msgtime",
        "msgtype",
        "text",
    },
}


@pytest.fixture(scope="module")
def simulation(tmp_path_factory) -> tuple[Path, dict]:
    """The sample folder and the simulation's own frames (before any export is written)."""
    out = tmp_path_factory.mktemp("sample")
    frames: dict = {}
    summary = generate(N, seed=42, out=out, _keep=frames)
    assert summary["persons"] == N
    return out, frames


@pytest.fixture(scope="module")
def sample(simulation) -> Path:
    return simulation[0]


def _noise(root: Path) -> dict:
    return json.loads((root / "truth" / "noise.json").read_text(encoding="utf-8"))


def _jsonl(path: Path) -> list[dict]:
    """Records of a JSON-lines export (all its files), keys renamed back to the documented ones."""
    files = [path] if path.exists() else sorted(path.parent.glob(path.stem + "_*.jsonl"))
    assert files, path
    noise = _noise(path.parent.parent)
    out = []
    for f in files:
        d = noise.get(f.name, {}).get("dialect", {"rename": {}})
        back = {v: k for k, v in d["rename"].items()}
        values = {
            back.get(k, k): {alt: v for v, alt in spelled.items()}
            for k, spelled in d.get("values", {}).items()
        }
        ad = noise.get(f.name, {}).get("address_dialect", {"rename": {}})
        aback = {v: k for k, v in ad["rename"].items()}
        for line in f.read_text(encoding="utf-8").splitlines():
            r = {back.get(k, k): v for k, v in json.loads(line).items()}
            for k, table in values.items():
                r[k] = table.get(r[k], r[k])
            if d.get("money") == "yuan":
                r["money"] = "yuan"
            if isinstance(r.get("address"), dict):
                r["address"] = {aback.get(k, k): v for k, v in r["address"].items()}
            out.append(r)
    return out


def _xlsx_rows(path: Path) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


def _raw_rows(path: Path, dialect: dict) -> list[list[str]]:
    """The rows of a CSV or xlsx export as written (title row included)."""
    if path.suffix == ".xlsx":
        return [[str(c) for c in r] for r in _xlsx_rows(path)]
    enc = dialect["encoding"]
    with open(path, encoding=enc, newline="") as fh:
        return list(csv.reader(fh))


def _frame(path: Path) -> pd.DataFrame:
    """A shop export under its documented column names (title row skipped, aliases undone)."""
    noise = _noise(path.parent.parent)[path.name]
    d = noise["dialect"]
    rows = _raw_rows(path, d)
    skip = 1 if noise.get("title_row") else 0
    df = pd.DataFrame(rows[skip + 1 :], columns=rows[skip]).astype(str)
    return df.rename(columns={v: k for k, v in d["rename"].items()})


def _douyin_frame(path: Path) -> pd.DataFrame:
    return _frame(path)


def _phone(s: str) -> str:
    digits = re.sub(r"\D", "", s.translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    return "+86" + digits[-11:]


def _truth(sample: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(sample / "truth" / name, dtype=str, keep_default_na=False)


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((0,), {}),
        ((-3,), {}),
        ((10,), {"start": "2025-01-01", "end": "2024-01-01"}),
        ((10,), {"start": "2025-01-01", "end": "2025-01-01"}),
        ((10,), {"start": "not a date"}),
    ],
)
def test_bad_arguments_raise_config_error(tmp_path, args, match):
    with pytest.raises(ConfigError):
        generate(*args, out=tmp_path, **match)


# ---------------------------------------------------------------- determinism


# generates two samples: the generator's own property, run with the slow tests
@pytest.mark.slow
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generate(300, seed=7, out=tmp_path / "a")
    generate(300, seed=7, out=tmp_path / "b")
    generate(300, seed=8, out=tmp_path / "c")
    a, b, c = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert a == b
    assert a.keys() == c.keys() or set(a) != set(c)
    differing = [k for k in a if c.get(k) != a[k]]
    assert len(differing) > len(a) // 2


# ---------------------------------------------------------------- the contract


def _dialect_header(documented: list[str], d: dict) -> list[str]:
    kept = [d["rename"].get(c, c) for c in documented if c not in d["drop"]] + d["extra"]
    if d["order"]:
        assert sorted(d["order"]) == sorted(kept)
        return d["order"]
    return kept


def test_every_contract_file_with_its_header(sample):
    ex = sample / "exports"
    noise = _noise(sample)
    names = {p.name for p in ex.iterdir()}
    for prefix, header in CSV_HEADERS.items():
        matches = [n for n in names if n.startswith(prefix)]
        assert matches, prefix
        for n in matches:
            with open(ex / n, encoding="utf-8-sig", newline="") as fh:
                assert next(csv.reader(fh)) == header, n
    for prefix, header in TABLE_HEADERS.items():
        matches = sorted(n for n in names if n.startswith(prefix))
        assert len(matches) >= 4, prefix  # one platform's export spread over several files
        for n in matches:
            d = noise[n]["dialect"]
            rows = _raw_rows(ex / n, d)
            if noise[n].get("title_row"):
                title = rows.pop(0)
                assert str(title[0]).startswith(("抖店订单导出", "有赞订单导出")), n
            assert [str(c) for c in rows[0]] == _dialect_header(header, d), n
    douyin = sorted(n for n in names if n.startswith("douyin_orders_"))
    assert len(douyin) >= 8  # one a quarter over two years
    for n in douyin:
        assert re.fullmatch(r"douyin_orders_\d{8}_\d{8}\.(xlsx|csv)", n)
    for prefix, keys in JSONL_KEYS.items():
        matches = sorted(n for n in names if n.startswith(prefix))
        assert matches, prefix
        for n in matches:
            d = noise.get(n, {}).get("dialect", {"rename": {}, "extra": []})
            want = {d["rename"].get(k, k) for k in keys}
            with open(ex / n, encoding="utf-8") as fh:
                for line in list(fh)[:200]:
                    assert want <= set(json.loads(line)), (n, want - set(json.loads(line)))


def test_tmall_is_gbk_or_utf8_with_bom(sample):
    files = sorted((sample / "exports").glob("tmall_orders_*.csv"))
    noise = _noise(sample)
    assert len(files) >= 2
    encodings = set()
    for f in files:
        raw = f.read_bytes()
        enc = noise[f.name]["dialect"]["encoding"]
        encodings.add(enc)
        raw.decode(enc)
        if enc == "utf-8-sig":
            assert raw.startswith(b"\xef\xbb\xbf")
        else:
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
        wrapped = not noise[f.name]["dialect"]["unwrap_ids"]
        assert ('"=""' in raw.decode(enc)) == wrapped  # order numbers written as ="..."
    assert encodings & {"gbk", "gb18030"}


def test_youzan_has_bom_and_varied_phone_spellings(sample):
    files = sorted((sample / "exports").glob("youzan_orders_*.csv"))
    noise = _noise(sample)
    assert files
    for f in files:
        bom = noise[f.name]["dialect"]["encoding"] == "utf-8-sig"
        assert f.read_bytes().startswith(b"\xef\xbb\xbf") == bom
    df = pd.concat(_frame(f) for f in files)
    phones = df["买家手机号"]
    assert phones.str.startswith("+86 ").any()
    assert phones.str.contains("１").any() or phones.str.contains("８").any()
    assert phones.str.fullmatch(r"1\d{10}").any()


TIME_PATTERNS = {
    "YYYY-MM-DD HH:MM:SS": r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}",
    "YYYY/MM/DD HH:MM": r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}",
    "YYYY/MM/DD HH:MM:SS": r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}",
    "YYYY年MM月DD日 HH:MM:SS": r"\d{4}年\d{2}月\d{2}日 \d{2}:\d{2}:\d{2}",
}


def _order_no(s: pd.Series) -> pd.Series:
    return s.str.removeprefix('="').str.removesuffix('"')


def test_tmall_reexport_overlaps_and_updates_status(sample):
    files = sorted((sample / "exports").glob("tmall_orders_*.csv"))
    noise = _noise(sample)
    frames = [_frame(f) for f in files]
    for f, df in zip(files, frames, strict=True):
        pattern = TIME_PATTERNS[noise[f.name]["time_format"]]
        assert df["订单创建时间"].str.fullmatch(pattern).mean() > 0.95, f.name
    a, b = (df.assign(订单编号=_order_no(df["订单编号"])) for df in frames[:2])
    both = a.merge(b, on="订单编号", suffixes=("_a", "_b"))
    assert len(both) > 0
    changed = both[both["订单状态_a"] != both["订单状态_b"]]
    assert len(changed) > 0
    assert set(changed["订单状态_b"]) & {"交易成功", "交易关闭"}


def test_garbage_and_duplicates_are_recorded(sample):
    noise = _noise(sample)
    ex = sample / "exports"
    for name, _info in noise.items():
        assert (ex / name).exists(), name
    f = sorted(ex.glob("tmall_orders_*.csv"))[-1]
    df = _frame(f)
    assert df.duplicated().sum() >= noise[f.name]["duplicate_rows"] > 0
    amount_bad = ~df["买家实际支付金额"].str.fullmatch(r"\d+\.\d{2}")
    date_bad = ~df["订单创建时间"].str.fullmatch(r"\d{4}[-/]\d{2}[-/]\d{2} [\d:]+")
    date_bad |= df["订单创建时间"].str.contains("-13-")
    assert int((amount_bad | date_bad).sum()) == noise[f.name]["garbage_rows"] > 0


# ---------------------------------------------------------------- dialects


def test_dialect_spellings_are_ones_the_presets_read():
    """Every alias a dialect writes resolves to its column's field; no extra column does."""
    for spec, preset, header in (
        (D.TMALL, "tmall_orders", TMALL_HEADER),
        (D.DOUYIN, "douyin_orders", DOUYIN_HEADER),
        (D.YOUZAN, "youzan_orders", YOUZAN_HEADER),
    ):
        p = load_preset(preset)
        field_of = {v: k for k, v in resolve_columns(header, p).items()}
        for col, aliases in spec.aliases.items():
            for alias in aliases:
                got = resolve_columns([*[h for h in header if h != col], alias], p)
                assert got.get(field_of[col]) == alias, (preset, col, alias)
        for extra in spec.extras:
            assert not resolve_columns([extra], p), (preset, extra)
        assert set(spec.optional) <= set(header)
        assert not set(spec.optional) & {header[0]}
    for spec, preset in (
        (D.MINIAPP_ORDERS, "miniapp_orders"),
        (D.MINIAPP_EVENTS, "miniapp_events"),
        (D.MINIAPP_USERS, "miniapp_users"),
    ):
        p = load_preset(preset)
        for key, spellings in spec.keys.items():
            field = next(f for f, a in p.columns.items() if key in a)
            for alias in spellings:
                assert alias in p.columns[field], (preset, key, alias)
        for extra in spec.extras:
            assert not resolve_columns([extra], p), (preset, extra)
    for spec, preset in (
        (D.MINIAPP_ORDERS, "miniapp_orders"),
        (D.MINIAPP_EVENTS, "miniapp_events"),
    ):
        p = load_preset(preset)
        for key, spelled in spec.values.items():
            for value, alts in spelled.items():
                for alt in alts:
                    if key == "status":
                        assert p.status[alt] == p.status[value], alt
                    else:
                        assert canonical_event_types(pd.Series([alt])).tolist() == [value]
    p = load_preset("miniapp_orders")
    for key, spellings in D.YUAN_KEYS.items():
        field = next(f for f, a in p.columns.items() if key in a)
        assert set(spellings) <= set(p.columns[field])
    for key, spellings in D.MINIAPP_ADDRESS.keys.items():
        field = next(f for f, a in p.columns.items() if f"address.{key}" in a)
        assert {f"address.{a}" for a in spellings} <= set(p.columns[field])


def test_dialects_vary_across_files(sample):
    noise = _noise(sample)
    tables = {
        n: v["dialect"] for n, v in noise.items() if "dialect" in v and "drop" in v["dialect"]
    }
    assert len(tables) >= 17
    assert sum(bool(d["rename"]) for d in tables.values()) >= 3
    assert sum(bool(d["drop"]) for d in tables.values()) >= 2
    assert sum(bool(d["extra"]) for d in tables.values()) >= 2
    assert sum(bool(d["order"]) for d in tables.values()) >= 2
    assert any(v.get("title_row") for n, v in noise.items() if n.startswith("youzan"))
    assert len({d["encoding"] for d in tables.values()}) >= 3  # GBK/GB18030, UTF-8 BOM, xlsx
    ext = {Path(n).suffix for n in tables if n.startswith("douyin")}
    assert ext == {".csv", ".xlsx"}
    jd = [v["dialect"] for v in noise.values() if "time_unit" in v.get("dialect", {})]
    assert len({d["time_unit"] for d in jd}) >= 3
    assert any(d["rename"] for d in jd) and any(d["extra"] for d in jd)


def test_every_export_ingests_and_only_garbage_is_rejected(sample):
    noise = _noise(sample)
    for f in sorted((sample / "exports").iterdir()):
        if f.name.startswith("xiaohongshu"):
            continue  # tests/ingest/test_xiaohongshu.py
        pf = parse_file(f)  # no file refused
        if f.name.startswith(("tmall_", "douyin_", "youzan_", "miniapp_")):
            assert pf.format == "_".join(f.stem.split("_")[:2]), f.name
        assert pf.rows_in == pf.accepted + pf.rejected
        assert pf.rejected == noise.get(f.name, {}).get("garbage_rows", 0), (
            f.name,
            pf.rejects[["column", "reason", "raw_value"]].head().to_dict("records"),
        )


def _canonical(root: Path) -> tuple[pd.DataFrame, set[str], pd.DataFrame]:
    orders, accounts, events = [], set(), []
    for f in sorted((root / "exports").iterdir()):
        if not f.name.startswith(("tmall_", "douyin_", "youzan_", "miniapp_")):
            continue
        pf = parse_file(f)
        if "orders" in pf.tables:
            orders.append(pf.tables["orders"])
        if "accounts" in pf.tables:
            accounts |= set(pf.tables["accounts"]["account_id"])
        if "events" in pf.tables:
            events.append(pf.tables["events"][["account_id", "type", "ts"]])
    o = pd.concat(orders, ignore_index=True)
    key = ["platform", "order_id", "line_id"]
    cols = [*key, "account_id", "amount", "refund_amount", "status"]
    o = o.assign(created=pd.to_datetime(o["created_at"]).dt.floor("min"))
    o = o.sort_values("created").drop_duplicates(key, keep="last")
    ev = pd.concat(events, ignore_index=True)
    # seconds: a dialect writes unix seconds where the backend kept milliseconds
    ev = ev.assign(ts=pd.to_datetime(ev["ts"]).dt.floor("s"))
    ev = ev.sort_values(["account_id", "ts", "type"]).reset_index(drop=True)
    return o[[*cols, "created"]].sort_values(key).reset_index(drop=True), accounts, ev


# generates two samples: the generator's own property, run with the slow tests
@pytest.mark.slow
def test_dialects_keep_the_canonical_values(tmp_path):
    """The same seed with and without dialects: the same orders, amounts, statuses and accounts."""
    generate(300, seed=3, out=tmp_path / "plain", _dialects=False)
    generate(300, seed=3, out=tmp_path / "mixed")
    plain, plain_acc, plain_ev = _canonical(tmp_path / "plain")
    mixed, mixed_acc, mixed_ev = _canonical(tmp_path / "mixed")
    noise = _noise(tmp_path / "mixed")
    dialects = [v["dialect"] for v in noise.values() if "dialect" in v]
    assert any(d["rename"] for d in dialects) and any(d.get("values") for d in dialects)
    assert any(d.get("money") == "yuan" for d in dialects)
    pd.testing.assert_frame_equal(plain.drop(columns="created"), mixed.drop(columns="created"))
    # minutes: a Tmall dialect spells times without seconds
    assert (plain["created"] == mixed["created"]).all()
    assert plain_acc == mixed_acc
    pd.testing.assert_frame_equal(plain_ev, mixed_ev)  # event names mapped to one vocabulary
    truth = _truth(tmp_path / "mixed", "orders.csv")
    real = mixed[~mixed["order_id"].str.contains("BAD")]
    heads = real.drop_duplicates(["platform", "order_id"])
    assert set(heads["order_id"]) <= set(truth["order_id"])


# ---------------------------------------------------------------- truth


def test_truth_covers_every_account_in_the_exports(sample):
    ex = sample / "exports"
    truth = _truth(sample, "accounts.csv")
    known = set(truth["account_id"])
    seen: set[str] = set()
    for f in ex.glob("tmall_orders_*.csv"):
        seen |= {"tmall:" + v for v in _frame(f)["买家会员名"]}
    for f in ex.glob("douyin_orders_*"):
        d = _douyin_frame(f)
        seen |= {
            "douyin:" + k for k in douyin_buyer_key(d["收件人"], d["收件人手机号"], d["详细地址"])
        }
    for f in ex.glob("youzan_orders_*.csv"):
        seen |= {"youzan:" + _phone(p) for p in _frame(f)["买家手机号"]}
    for f in ex.glob("xiaohongshu_orders_*.xlsx"):
        rows = _xlsx_rows(f)
        x = pd.DataFrame(rows[1:], columns=rows[0]).astype(str)
        x = x[x["下单时间"] != "无效日期"]
        keys = buyer_key(x["收件人"], x["收件人手机号"], x["详细地址"])
        seen |= {"xiaohongshu:" + k for k in keys}
    for name, key in (
        ("miniapp_users.jsonl", "openid"),
        ("miniapp_orders.jsonl", "openid"),
        ("miniapp_events.jsonl", "openid"),
        ("miniapp_referrals.jsonl", "inviter_openid"),
        ("miniapp_referrals.jsonl", "invitee_openid"),
    ):
        seen |= {"wechat:" + r[key] for r in _jsonl(ex / name)}
    contacts = _jsonl(ex / "wecom_contacts.jsonl")
    seen |= {"wecom:" + c["external_contact"]["external_userid"] for c in contacts}
    for e in _jsonl(ex / "wecom_events.jsonl"):
        ids = [e["ExternalUserID"]] if "ExternalUserID" in e else e.get("MemChangeList", [])
        seen |= {"wecom:" + i for i in ids}
    seen |= {
        "wecom:" + m["from"]
        for m in _jsonl(ex / "wecom_chat_archive.jsonl")
        if m["from"].startswith("wm")
    }
    assign = pd.read_csv(ex / "experiment_assignments.csv", dtype=str)
    seen |= set(assign.loc[assign["unit_type"] == "account", "unit_id"])
    missing = seen - known
    assert not missing, sorted(missing)[:5]
    assert truth["account_id"].is_unique
    # Every platform is present and ids are written the way ingest keys them.
    for plat, pattern in (
        ("tmall", r"tmall:\S+"),
        ("douyin", r"douyin:d[0-9a-f]{19}"),
        ("xiaohongshu", r"xiaohongshu:x[0-9a-f]{19}"),
        ("youzan", r"youzan:\+861\d{10}"),
        ("wechat", r"wechat:o[\w-]{27}"),
        ("wecom", r"wecom:wm[\w-]{30}"),
    ):
        ids = truth.loc[truth["platform"] == plat, "account_id"]
        assert len(ids) > 0 and ids.str.fullmatch(pattern).all(), plat


def test_persons_have_one_to_four_accounts_and_variant_names(sample):
    acc = _truth(sample, "accounts.csv")
    persons = _truth(sample, "persons.csv")
    per = acc.groupby("person_id").size()
    assert per.min() >= 1 and per.max() <= 4
    assert set(per.index) == set(persons["person_id"])
    assert (per > 1).mean() > 0.3
    merged = acc.merge(persons[["person_id", "name"]], on="person_id")
    variant = merged["display_name"] != merged["name"]
    assert 0.1 < variant.mean() < 0.6
    assert merged["display_name"].str.contains("[張陳劉楊黃趙吳麗偉靜華]").any()


def test_shop_test_phone_is_shared_by_many_accounts(sample):
    ex = sample / "exports"
    holders: set[str] = set()
    for u in _jsonl(ex / "miniapp_users.jsonl"):
        if u.get("phone") == TEST_PHONE:
            holders.add("wechat:" + u["openid"])
    for c in _jsonl(ex / "wecom_contacts.jsonl"):
        if any(TEST_PHONE in f["remark_mobiles"] for f in c["follow_user"]):
            holders.add("wecom:" + c["external_contact"]["external_userid"])
    for f in ex.glob("youzan_orders_*.csv"):
        y = _frame(f)
        rec = y["收货人手机号/提货人手机号"].map(_phone)
        holders |= {"youzan:" + _phone(p) for p in y.loc[rec == "+86" + TEST_PHONE, "买家手机号"]}
    # a few dozen accounts (1%, at least 40 in expectation; here the full-phone ones)
    assert len(holders) >= 15


def test_unionid_links_wechat_and_wecom_of_one_person(sample):
    ex = sample / "exports"
    acc = _truth(sample, "accounts.csv").set_index("account_id")["person_id"]
    u = {
        "wechat:" + r["openid"]: r["unionid"]
        for r in _jsonl(ex / "miniapp_users.jsonl")
        if "unionid" in r
    }
    c = {
        "wecom:" + r["external_contact"]["external_userid"]: r["external_contact"]["unionid"]
        for r in _jsonl(ex / "wecom_contacts.jsonl")
        if "unionid" in r["external_contact"]
    }
    by_union = pd.Series({**u, **c})
    shared = by_union.groupby(by_union).filter(lambda s: len(s) > 1)
    assert len(shared) > 50
    # A unionid never spans two persons.
    persons = acc.reindex(shared.index).groupby(shared.to_numpy()).nunique()
    assert (persons == 1).all()


def test_btyd_some_churn_and_nobody_orders_after_churning(sample):
    persons = _truth(sample, "persons.csv")
    orders = _truth(sample, "orders.csv")
    churned = persons[persons["churned"] == "True"]
    assert 0.2 < len(churned) / len(persons) < 0.9
    last = orders.groupby("person_id")["created_at"].max().str.slice(0, 10)
    c = churned.set_index("person_id")["churn_date"]
    both = last.reindex(c.index).dropna()
    assert len(both) > 100
    assert (both <= c.reindex(both.index)).all()
    # The last order of a churned buyer is on their churn date (dropout follows a purchase).
    assert (both == c.reindex(both.index)).mean() > 0.95
    fake = _truth(sample, "referrals.csv")["planted_fake"] == "True"  # they never buy: λ 0
    lam = persons.loc[~fake.to_numpy(), "lambda"].astype(float)
    assert lam.min() > 0 and lam.max() / lam.median() > 5


def test_seasonality_and_refunds(sample):
    orders = _truth(sample, "orders.csv")
    day = pd.to_datetime(orders["created_at"]).dt.strftime("%m-%d")
    per_day = day.value_counts()
    double11 = per_day.reindex([f"11-{d:02d}" for d in range(1, 12)]).mean()
    assert double11 > 1.8 * per_day.median()
    share = orders["status"].value_counts(normalize=True)
    assert 0.04 < share["refunded"] < 0.09
    assert 0.02 < share["cancelled"] < 0.08


def test_orders_spread_over_platforms_and_douyin_sub_orders(sample):
    orders = _truth(sample, "orders.csv")
    assert set(orders["platform"]) == {"tmall", "douyin", "youzan", "wechat", "xiaohongshu"}
    ex = sample / "exports"
    d = pd.concat(_douyin_frame(f) for f in ex.glob("douyin_orders_*"))
    per_main = d.drop_duplicates().groupby("主订单编号").size()
    assert (per_main > 1).any()
    assert (d["达人ID"] != "").any() and set(d["流量来源"]) <= {"直播", "短视频", "商品卡", "搜索"}
    mini = _jsonl(ex / "miniapp_orders.jsonl")
    assert any(o["groupbuy_id"] for o in mini) and any(o["channel_code"] for o in mini)
    real = [o for o in mini if o["order_no"].startswith("WX2")]
    assert all(isinstance(o["total_fee"], int) for o in real if o.get("money") != "yuan")
    assert all(isinstance(o["total_fee"], float) for o in real if o.get("money") == "yuan")


def test_douyin_splits_when_a_sheet_would_overflow(tmp_path):
    summary = generate(400, seed=3, out=tmp_path, _douyin_max_rows=25)
    files = sorted((tmp_path / "exports").glob("douyin_orders_*"))
    assert len(files) > 9  # more than one per quarter
    noise = json.loads((tmp_path / "truth" / "noise.json").read_text(encoding="utf-8"))
    for f in files:
        real = summary["files"][f.name] - noise[f.name]["garbage_rows"]
        assert real - noise[f.name]["duplicate_rows"] <= 25 or "_" not in f.stem


def test_events_not_in_time_order_and_carry_channel_codes(sample):
    ex = sample / "exports"
    ev = _jsonl(ex / "miniapp_events.jsonl")
    ts = np.array(
        [pd.Timestamp(e["ts"]).value if isinstance(e["ts"], str) else e["ts"] for e in ev]
    )
    assert (np.diff(ts) < 0).any()
    kinds = {e["event"] for e in ev}
    assert kinds == {"page_view", "cart_add", "groupbuy_join", "qr_scan", "share"}
    codes = set(pd.read_csv(ex / "channels.csv", dtype=str)["渠道码"])
    scans = [e["props"]["channel_code"] for e in ev if e["event"] == "qr_scan"]
    assert scans and set(scans) <= codes
    assert any("groupbuy_id" in e["props"] for e in ev if e["event"] == "page_view")
    states = {f["state"] for c in _jsonl(ex / "wecom_contacts.jsonl") for f in c["follow_user"]}
    assert states - {""} and (states - {""}) <= codes


def test_wecom_change_events(sample):
    ev = _jsonl(sample / "exports" / "wecom_events.jsonl")
    kinds = {e["ChangeType"] for e in ev if e["Event"] == "change_external_contact"}
    assert {
        "add_external_contact",
        "del_follow_user",
        "del_external_contact",
        "transfer_success",
    } <= kinds
    assert all("HandoverUserID" in e for e in ev if e["ChangeType"] == "transfer_success")
    details = {e.get("UpdateDetail") for e in ev if e["Event"] == "change_external_chat"}
    assert details == {"add_member", "del_member"}
    # Customers who delete their sales rep are mostly people who stopped buying.
    acc = _truth(sample, "accounts.csv").set_index("account_id")["person_id"]
    churned = _truth(sample, "persons.csv").set_index("person_id")["churned"] == "True"
    dels = [acc["wecom:" + e["ExternalUserID"]] for e in ev if e["ChangeType"] == "del_follow_user"]
    assert churned.reindex(dels).mean() > churned.mean() + 0.1


def test_chat_archive_has_labelled_intents(sample):
    msgs = _jsonl(sample / "exports" / "wecom_chat_archive.jsonl")
    labels = _truth(sample, "messages.csv")
    assert [m["msgid"] for m in msgs] == labels["msgid"].tolist()
    assert set(labels["intent"]) == {
        "purchase_intent",
        "service",
        "complaint",
        "praise",
        "chitchat",
        "staff",
    }
    assert set(labels["sentiment"]) == {"positive", "neutral", "negative"}
    text = "".join(m["text"]["content"] for m in msgs)
    assert "連結" in text or "還有貨" in text or "怎麼買" in text
    assert any(ord(ch) > 0xFFFF for ch in text)  # emoji
    assert any(m["roomid"] for m in msgs) and any(not m["roomid"] for m in msgs)
    assert set(labels.loc[labels["intent"] == "complaint", "sentiment"]) == {"negative"}


def test_survey_answers_rate_orders_and_name_the_customers_staff(sample):
    ex = sample / "exports"
    pf = parse_file(ex / "survey_answers.csv")
    s = pf.tables["surveys"]
    assert pf.format == "survey_answers" and set(s["kind"]) == {"csat", "nps"}
    wide = s.pivot_table(index="survey_id", columns="kind", values="score")
    # mostly satisfied, and those who are recommend more
    assert 3.3 < wide["csat"].mean() < 4.6
    assert wide[["csat", "nps"]].dropna().corr().loc["csat", "nps"] > 0.6
    followers = {
        (c["external_contact"]["external_userid"], f["userid"])
        for c in _jsonl(ex / "wecom_contacts.jsonl")
        for f in c["follow_user"]
    }
    pairs = set(zip(s["account_id"].str.removeprefix("wecom:"), s["staff_id"], strict=True))
    assert pairs <= followers


def test_referrals_are_heavy_tailed_with_chains(sample):
    ref = _jsonl(sample / "exports" / "miniapp_referrals.jsonl")
    df = pd.DataFrame(ref)
    out_deg = df.groupby("inviter_openid").size()
    assert out_deg.max() >= 5 * out_deg.median()
    assert set(df["kind"]) == {"invite", "group_leader", "distributor"}
    # Multi-hop: someone invited is also an inviter.
    assert len(set(df["invitee_openid"]) & set(df["inviter_openid"])) > 0


def test_consent_and_touches(sample):
    ex = sample / "exports"
    consent = pd.read_csv(ex / "consent.csv", dtype=str)
    assert set(consent["是否同意"]) == {"是", "否"}
    touches = pd.read_csv(ex / "touches.csv", dtype=str)
    assert set(touches["用户类型"]) == {"openid", "external_userid", "phone"}
    assert set(touches["渠道"]) <= {
        "wecom_1v1",
        "wecom_group",
        "sms",
        "miniapp_push",
        "official_account",
    }
    assert (touches["是否点击"] == "是").sum() < (touches["是否打开"] == "是").sum()


# ---------------------------------------------------------------- experiments


def _realized(sample: Path, experiment: str, days: int) -> pd.DataFrame:
    """Per enrolled person: arm, and whether the orders files show an order in the window."""
    outcomes = _truth(sample, "experiment_outcomes.csv")
    oc = outcomes[(outcomes["experiment"] == experiment) & (outcomes["active"] == "True")].copy()
    orders = _truth(sample, "orders.csv")
    o = orders.merge(oc[["person_id", "window_start"]], on="person_id")
    t, w0 = pd.to_datetime(o["created_at"]), pd.to_datetime(o["window_start"])
    hit = o[(t >= w0) & (t < w0 + pd.Timedelta(days=days))]["person_id"].unique()
    oc["ordered"] = oc["person_id"].isin(hit)
    return oc


@pytest.mark.parametrize(("experiment", "days"), [("birthday_msg", 7), ("group_buy_post", 3)])
def test_experiment_effect_is_in_the_orders(sample, experiment, days):
    truth = json.loads((sample / "truth" / "experiments.json").read_text(encoding="utf-8"))[
        experiment
    ]
    oc = _realized(sample, experiment, days)
    # The truth's conversion flag is exactly what the order data shows.
    assert (oc["ordered"] == (oc["converted"] == "True")).all()
    rate = oc.groupby("arm")["ordered"].mean()
    assert rate["B"] > rate["A"]
    for arm in ("A", "B"):
        n = int((oc["arm"] == arm).sum())
        assert abs(rate[arm] - truth["true_rate"][arm]) <= 0.5 / n + 1e-9


def test_experiment_assignments_follow_the_design(sample):
    a = pd.read_csv(sample / "exports" / "experiment_assignments.csv", dtype=str)
    assert set(a["unit_type"]) == {"account", "group"}
    acc = a[a["unit_type"] == "account"]
    assert acc["unit_id"].str.match(r"(wechat|wecom):").all()
    assert a["assigned_at"].str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00").all()
    person = _truth(sample, "accounts.csv").set_index("account_id")["person_id"]
    arms = acc.assign(p=person.reindex(acc["unit_id"]).to_numpy()).groupby("p")["variant"].nunique()
    assert (arms > 1).any()  # per-account randomization splits some persons
    grp = a[a["unit_type"] == "group"]
    assert grp["unit_id"].str.startswith("wr").all() and set(grp["variant"]) == {"A", "B"}
    rooms = {m["roomid"] for m in _jsonl(sample / "exports" / "wecom_chat_archive.jsonl")}
    assert set(grp["unit_id"]) & rooms


def test_summary_lists_files_with_row_counts(sample, tmp_path):
    s = generate(50, seed=1, out=tmp_path)
    assert s["accounts"] >= 50 and s["seconds"] >= 0
    assert s["files"]["staff.csv"] > 0 and "truth/persons.csv" in s["files"]
    with open(tmp_path / "exports" / "staff.csv", encoding="utf-8") as fh:
        assert sum(1 for _ in csv.reader(io.StringIO(fh.read()))) == s["files"]["staff.csv"] + 1


def test_unionid_is_the_brands_and_orders_carry_the_shipping_address(sample):
    ex = sample / "exports"
    users = _jsonl(ex / "miniapp_users.jsonl")
    # the mini-program is bound to the brand's open platform: every user has a unionid
    assert all(u.get("unionid") for u in users)
    contacts = [c["external_contact"] for c in _jsonl(ex / "wecom_contacts.jsonl")]
    assert all(bool(c.get("unionid")) == (c["type"] == 1) for c in contacts)
    assert 0.9 < np.mean([c["type"] == 1 for c in contacts]) < 1.0
    orders = _jsonl(ex / "miniapp_orders.jsonl")
    addr = [o["address"] for o in orders if "address" in o]
    assert len(addr) > 0.99 * len(orders)
    truth = pd.read_csv(sample / "truth" / "persons.csv", dtype=str)
    phones = set(truth["phone"].str.removeprefix("+86"))
    assert np.mean([a["telNumber"] in phones for a in addr]) > 0.99  # full, the buyer's own


# ---------------------------------------------------------------- channels and journeys

CHANNEL_TRUTH = {
    "acquisition.csv": [
        "person_id",
        "channel_type",
        "channel_code",
        "campaign",
        "staff_id",
        "acquired_at",
        "visible",
        "inviter_person_id",
    ],
    "channel_value.csv": [
        "channel_code",
        "channel_type",
        "campaign",
        "staff_id",
        "multiplier",
        "persons",
        "persons_90d",
        "net_gmv_90d_per_person",
        "cost",
    ],
    "funnel.csv": ["person_id", "step", "ts"],
}


def test_channel_truth_files_have_their_columns(sample):
    for name, columns in CHANNEL_TRUTH.items():
        assert list(_truth(sample, name).columns) == columns, name
    acq = _truth(sample, "acquisition.csv")
    assert acq["person_id"].tolist() == _truth(sample, "persons.csv")["person_id"].tolist()
    kinds = set(acq["channel_type"])
    assert kinds == {
        "活码",
        "海报",
        "广告",
        "直播间",
        "门店",
        "referral",
        "douyin_influencer",
        "organic",
    }
    assert acq["acquired_at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    # acquired_at is first_seen (a local date) in UTC
    local = pd.to_datetime(acq["acquired_at"]).dt.tz_convert("Asia/Shanghai").dt.strftime("%F")
    assert (local == _truth(sample, "persons.csv")["first_seen"]).all()
    no_code = acq["channel_type"].isin(["referral", "organic"])  # a 达人 has its 达人ID
    assert (acq.loc[no_code, "channel_code"] == "").all()
    assert (acq.loc[~no_code, "channel_code"] != "").all()
    ref = acq["channel_type"] == "referral"
    assert (acq.loc[ref, "inviter_person_id"] != "").all()
    assert (acq.loc[~ref, "inviter_person_id"] == "").all()
    # most first touches are in the exports, some were lost
    code_rows = acq[~no_code]
    assert 0.8 < (code_rows["visible"] == "True").mean() < 1.0


def test_channels_have_campaigns_staff_and_some_blank_costs(sample):
    ex = sample / "exports"
    ch = pd.read_csv(ex / "channels.csv", dtype=str, keep_default_na=False)
    staff = set(pd.read_csv(ex / "staff.csv", dtype=str)["userid"])
    live = ch["渠道类型"] == "活码"
    assert ch.loc[live, "导购"].isin(staff).all() and (ch.loc[~live, "导购"] == "").all()
    per_campaign = ch.loc[ch["活动"] != "", "活动"].value_counts()
    assert 2 <= len(per_campaign) <= 6 and (per_campaign >= 2).all()
    assert (ch["活动"] == "").any()
    blank = ch["成本"] == ""
    assert blank.any() and not blank.all()
    value = _truth(sample, "channel_value.csv").set_index("channel_code")
    assert value.loc[ch["渠道码"], "cost"].tolist() == ch["成本"].tolist()
    assert value.loc[ch["渠道码"], "staff_id"].tolist() == ch["导购"].tolist()


def test_channels_differ_in_true_value(sample):
    value = _truth(sample, "channel_value.csv")
    mult = value["multiplier"].astype(float)
    assert mult.nunique() > len(mult) // 2
    assert mult.min() >= 0.3 and mult.max() <= 3.0 and mult.max() / mult.min() > 3
    # The multiplier shows in the realised value: persons of high-value codes (pooled)
    # bring clearly more than persons of low-value codes.
    n = value["persons_90d"].astype(int)
    total = value["net_gmv_90d_per_person"].replace("", "0").astype(float) * n
    high, low = mult > 1.3, mult < 0.8
    assert n[high].sum() > 0 and n[low].sum() > 0
    assert total[high].sum() / n[high].sum() > 1.2 * total[low].sum() / n[low].sum()


def test_channel_value_from_the_truth_orders(sample):
    """net GMV per person recomputed from persons, orders and acquisition truth files."""
    acq = _truth(sample, "acquisition.csv")
    orders = _truth(sample, "orders.csv")
    orders = orders[orders["status"].isin(["paid", "refunded"])]
    at = pd.to_datetime(acq.set_index("person_id")["acquired_at"]).dt.tz_convert(None)
    created = pd.to_datetime(orders["created_at"]) - pd.Timedelta(hours=8)  # local to UTC
    t0 = at.reindex(orders["person_id"]).to_numpy()
    inside = (created.to_numpy() >= t0) & (created.to_numpy() < t0 + np.timedelta64(90, "D"))
    net = orders["amount"].astype(float) - orders["refund_amount"].astype(float)
    gmv = net[inside].groupby(orders["person_id"][inside]).sum()
    end = pd.Timestamp("2026-10-31 16:00") - pd.Timedelta(days=90)  # window end in UTC
    start = pd.Timestamp("2024-10-31 16:00")
    ok = (at >= start) & (at <= end)
    code = acq.set_index("person_id")["channel_code"]
    per = gmv.reindex(at.index, fill_value=0.0)[ok & (code != "")]
    mine = per.groupby(code[per.index]).agg(["mean", "size"])
    value = _truth(sample, "channel_value.csv").set_index("channel_code")
    value = value[value["persons_90d"].astype(int) > 0]
    assert (mine["size"].reindex(value.index) == value["persons_90d"].astype(int)).all()
    got = value["net_gmv_90d_per_person"].astype(float)
    assert np.allclose(mine["mean"].reindex(value.index), got, atol=0.01)


def _code_touches(frames: dict) -> pd.DataFrame:
    """Every touch that names a code (or an invite), per person, from the simulation."""
    person = frames["accounts"]["person_idx"].to_numpy()
    fo = frames["follows"]
    fo = fo[fo["state"] != ""]
    info = frames["info"]
    info = info[info["qr_code"] != ""]
    ev = frames["events"]
    ev = ev[ev["event"] == "qr_scan"]
    ref = frames["referrals"]
    parts = [
        (fo["account_row"], fo["state"], fo["created"]),
        (info["account_row"], info["qr_code"], info["sub_t"]),
        (ev["account_row"], ev["channel_code"], ev["t"]),
        (ref["invitee_row"], pd.Series("referral", index=ref.index), ref["t"]),
    ]
    return pd.concat(
        [
            pd.DataFrame(
                {"person_idx": person[r.to_numpy()], "code": c.to_numpy(), "t": t.to_numpy()}
            )
            for r, c, t in parts
        ],
        ignore_index=True,
    )


def test_acquisition_touch_comes_first(simulation):
    _, frames = simulation
    acq = frames["acquisition"]
    touches = _code_touches(frames).merge(
        acq[["person_idx", "channel_type", "channel_code", "t", "visible"]],
        on="person_idx",
        suffixes=("", "_acq"),
    )
    own = np.where(touches["channel_type"] == "referral", "referral", touches["channel_code"])
    mine = touches["code"].to_numpy() == own
    assert (touches["t"] >= touches["t_acq"]).all()  # nothing before the acquisition
    assert (touches["t"][~mine] > touches["t_acq"][~mine]).all()  # other codes strictly after
    at_t0 = touches[mine & (touches["t"] == touches["t_acq"]).to_numpy()]
    shown = set(at_t0["person_idx"])
    # a 达人's order acquires without a code touch (the truth's douyin_influencer)
    acquired = acq[~acq["channel_type"].isin(["organic", "douyin_influencer"])]
    assert set(acquired.loc[acquired["visible"], "person_idx"]) <= shown
    assert not set(acquired.loc[~acquired["visible"], "person_idx"]) & shown
    # 活码 persons were added by the code's own staff member
    code_staff = frames["channels"].set_index("渠道码")["导购"]
    fo = frames["follows"]
    first = fo[~fo["second"].to_numpy() & (fo["state"] != "").to_numpy()]
    pidx = frames["accounts"]["person_idx"].to_numpy()[first["account_row"].to_numpy()]
    is_acq = first["created"].to_numpy() == acq["t"].to_numpy()[pidx]
    orig = first["handover_from"].fillna(first["userid"]).to_numpy()
    owner = code_staff.reindex(first["state"]).to_numpy()
    assert (orig[is_acq] == owner[is_acq]).all() and is_acq.any()


def test_funnel_steps_follow_the_orders(sample):
    funnel = _truth(sample, "funnel.csv")
    assert set(funnel["step"]) == {
        "scan_or_add",
        "group_or_follow",
        "view",
        "cart",
        "first_order",
        "second_order_90d",
    }
    assert not funnel.duplicated(["person_id", "step"]).any()
    wide = funnel.pivot(index="person_id", columns="step", values="ts").apply(pd.to_datetime)
    both = wide["second_order_90d"].notna()
    gap = wide.loc[both, "second_order_90d"] - wide.loc[both, "first_order"]
    assert (gap >= pd.Timedelta(0)).all() and (gap <= pd.Timedelta(days=90)).all()
    # first_order is the first paid (or later refunded) order of truth/orders.csv
    orders = _truth(sample, "orders.csv")
    orders = orders[orders["status"].isin(["paid", "refunded"])]
    first = pd.to_datetime(orders.groupby("person_id")["created_at"].min())
    first = first.dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
    assert (wide["first_order"].dropna().sort_index() == first.sort_index()).all()
    # every WeCom contact reached scan_or_add by their add
    acc = _truth(sample, "accounts.csv")
    wecom = set(acc.loc[acc["platform"] == "wecom", "person_id"])
    assert wecom <= set(wide.index[wide["scan_or_add"].notna()])
