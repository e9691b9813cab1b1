"""The sample generator writes the contract's files, deterministic, with a truth that holds."""

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
from scrm_lib.ingest.keys import douyin_buyer_key
from scrm_lib.sample import generate
from tests.ingest.conftest import (  # the contract, stated once for tests
    DOUYIN_HEADER,
    TMALL_HEADER,
    YOUZAN_HEADER,
)

N = 2000
TEST_PHONE = "13800138000"

CSV_HEADERS = {
    "tmall_orders_": TMALL_HEADER,
    "youzan_orders_": YOUZAN_HEADER,
    "staff.csv": ["userid", "name", "department"],
    "channels.csv": ["渠道码", "渠道名称", "渠道类型", "成本", "创建时间"],
    "touches.csv": ["活动", "渠道", "用户类型", "用户标识", "发送时间", "是否打开", "是否点击"],
    "consent.csv": ["用户类型", "用户标识", "渠道", "是否同意", "时间"],
    "experiment_assignments.csv": ["experiment", "unit_type", "unit_id", "variant", "assigned_at"],
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
    "miniapp_orders.jsonl": {
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
    "miniapp_events.jsonl": {"openid", "event", "page", "ts", "props"},
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
def sample(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    summary = generate(N, seed=42, out=out)
    assert summary["persons"] == N
    return out


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _xlsx_rows(path: Path) -> list[list]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


def _douyin_frame(path: Path) -> pd.DataFrame:
    rows = _xlsx_rows(path)
    skip = 0 if rows[0][0] == "主订单编号" else 1
    return pd.DataFrame(rows[skip + 1 :], columns=rows[skip]).astype(str)


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


def test_every_contract_file_with_its_header(sample):
    ex = sample / "exports"
    names = {p.name for p in ex.iterdir()}
    for prefix, header in CSV_HEADERS.items():
        matches = [n for n in names if n.startswith(prefix)]
        assert matches, prefix
        for n in matches:
            enc = "gbk" if n.startswith("tmall") else "utf-8-sig"
            with open(ex / n, encoding=enc, newline="") as fh:
                assert next(csv.reader(fh)) == header, n
    douyin = sorted(n for n in names if n.startswith("douyin_orders_"))
    assert len(douyin) >= 8  # one a quarter over two years
    titled = 0
    for n in douyin:
        assert re.fullmatch(r"douyin_orders_\d{8}_\d{8}\.xlsx", n)
        rows = _xlsx_rows(ex / n)
        if rows[0][0] != "主订单编号":
            titled += 1
            assert str(rows[0][0]).startswith("抖店订单导出")
            rows = rows[1:]
        assert rows[0] == DOUYIN_HEADER
    assert 0 < titled < len(douyin)
    for n, keys in JSONL_KEYS.items():
        recs = _jsonl(ex / n)
        assert recs, n
        for r in recs[:200]:
            assert keys <= set(r), (n, keys - set(r))


def test_tmall_is_gbk_and_not_utf8(sample):
    files = sorted((sample / "exports").glob("tmall_orders_*.csv"))
    assert len(files) >= 2
    for f in files:
        raw = f.read_bytes()
        raw.decode("gbk")
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    text = files[0].read_bytes().decode("gbk")
    assert '"=""' in text  # order numbers written as ="..."


def test_youzan_has_bom_and_varied_phone_spellings(sample):
    files = sorted((sample / "exports").glob("youzan_orders_*.csv"))
    assert files
    for f in files:
        assert f.read_bytes().startswith(b"\xef\xbb\xbf")
    df = pd.concat(
        pd.read_csv(f, dtype=str, encoding="utf-8-sig", keep_default_na=False) for f in files
    )
    phones = df["买家手机号"]
    assert phones.str.startswith("+86 ").any()
    assert phones.str.contains("１").any() or phones.str.contains("８").any()
    assert phones.str.fullmatch(r"1\d{10}").any()


def test_tmall_reexport_overlaps_and_updates_status(sample):
    files = sorted((sample / "exports").glob("tmall_orders_*.csv"))
    frames = [pd.read_csv(f, dtype=str, encoding="gbk", keep_default_na=False) for f in files]
    slash = [
        f["订单创建时间"].str.fullmatch(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}").mean() for f in frames
    ]
    assert max(slash) > 0.9 and min(slash) < 0.1
    a, b = frames[0], frames[1]
    both = a.merge(b, on="订单编号", suffixes=("_a", "_b"))
    assert len(both) > 0
    changed = both[both["订单状态_a"] != both["订单状态_b"]]
    assert len(changed) > 0
    assert set(changed["订单状态_b"]) & {"交易成功", "交易关闭"}


def test_garbage_and_duplicates_are_recorded(sample):
    noise = json.loads((sample / "truth" / "noise.json").read_text(encoding="utf-8"))
    ex = sample / "exports"
    for name, _info in noise.items():
        assert (ex / name).exists(), name
    f = sorted(ex.glob("tmall_orders_*.csv"))[-1]
    df = pd.read_csv(f, dtype=str, encoding="gbk", keep_default_na=False)
    assert df.duplicated().sum() >= noise[f.name]["duplicate_rows"] > 0
    amount_bad = ~df["买家实际支付金额"].str.fullmatch(r"\d+\.\d{2}")
    date_bad = ~df["订单创建时间"].str.fullmatch(r"\d{4}[-/]\d{2}[-/]\d{2} [\d:]+")
    date_bad |= df["订单创建时间"].str.startswith("0000") | df["订单创建时间"].str.contains("-13-")
    assert int((amount_bad | date_bad).sum()) == noise[f.name]["garbage_rows"] > 0


# ---------------------------------------------------------------- truth


def test_truth_covers_every_account_in_the_exports(sample):
    ex = sample / "exports"
    truth = _truth(sample, "accounts.csv")
    known = set(truth["account_id"])
    seen: set[str] = set()
    for f in ex.glob("tmall_orders_*.csv"):
        seen |= {"tmall:" + v for v in pd.read_csv(f, dtype=str, encoding="gbk")["买家会员名"]}
    for f in ex.glob("douyin_orders_*.xlsx"):
        d = _douyin_frame(f)
        seen |= {
            "douyin:" + k for k in douyin_buyer_key(d["收件人"], d["收件人手机号"], d["详细地址"])
        }
    for f in ex.glob("youzan_orders_*.csv"):
        y = pd.read_csv(f, dtype=str, encoding="utf-8-sig")
        seen |= {"youzan:" + _phone(p) for p in y["买家手机号"]}
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
        y = pd.read_csv(f, dtype=str, encoding="utf-8-sig")
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
    lam = persons["lambda"].astype(float)
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
    assert set(orders["platform"]) == {"tmall", "douyin", "youzan", "wechat"}
    ex = sample / "exports"
    d = pd.concat(_douyin_frame(f) for f in ex.glob("douyin_orders_*.xlsx"))
    per_main = d.drop_duplicates().groupby("主订单编号").size()
    assert (per_main > 1).any()
    assert (d["达人ID"] != "").any() and set(d["流量来源"]) <= {"直播", "短视频", "商品卡", "搜索"}
    mini = _jsonl(ex / "miniapp_orders.jsonl")
    assert any(o["groupbuy_id"] for o in mini) and any(o["channel_code"] for o in mini)
    assert all(isinstance(o["total_fee"], int) for o in mini if o["order_no"].startswith("WX2"))


def test_douyin_splits_when_a_sheet_would_overflow(tmp_path):
    summary = generate(400, seed=3, out=tmp_path, _douyin_max_rows=40)
    files = sorted((tmp_path / "exports").glob("douyin_orders_*.xlsx"))
    assert len(files) > 9  # more than one per quarter
    noise = json.loads((tmp_path / "truth" / "noise.json").read_text(encoding="utf-8"))
    for f in files:
        real = summary["files"][f.name] - noise[f.name]["garbage_rows"]
        assert real - noise[f.name]["duplicate_rows"] <= 40 or "_" not in f.stem


def test_events_not_in_time_order_and_carry_channel_codes(sample):
    ex = sample / "exports"
    ev = _jsonl(ex / "miniapp_events.jsonl")
    ts = np.array([e["ts"] for e in ev])
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
    orders = []
    for line in (ex / "miniapp_orders.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            orders.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    addr = [o["address"] for o in orders if "address" in o]
    assert len(addr) > 0.99 * len(orders)
    truth = pd.read_csv(sample / "truth" / "persons.csv", dtype=str)
    phones = set(truth["phone"].str.removeprefix("+86"))
    assert np.mean([a["telNumber"] in phones for a in addr]) > 0.99  # full, the buyer's own
