"""Format fuzz: a shop's file in another dialect must give the same canonical rows.

Each case starts from a small hand-made export in ``tests/data/fuzz/`` (not
written by the sample generator). Hypothesis renames its columns to other
aliases the preset knows, reorders them, drops columns the compared values
do not depend on, adds columns no preset reads, respells times (local text
in several formats, ISO with offset, unix seconds or milliseconds), money
(a currency sign, fen under a header that says so, yuan for fen) and
changes the encoding, delimiter and title row. The mutated file must be
detected as the same preset, keep ``rows in = accepted + rejected`` with
the same rejected count, and give the same canonical values (order ids,
amounts in CNY, UTC times, account ids, statuses) as the unmutated file.

Runs ``max_examples=25`` per case by default, 300 under ``-m slow``;
``derandomize`` when ``CI=true`` so a CI failure reproduces.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrm_lib.ingest import ParsedFile, parse_file
from scrm_lib.ingest.presets import Preset, header_key, load_preset, resolve_columns

DATA = Path(__file__).resolve().parent.parent / "data" / "fuzz"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
CI = os.environ.get("CI", "").lower() == "true"

settings.register_profile(
    "format-fuzz",
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=CI,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("format-fuzz-slow", settings.get_profile("format-fuzz"), max_examples=300)


@dataclass(frozen=True)
class Case:
    preset: str
    file: str
    #: documented columns (JSON: dotted key paths) the compared values do not depend on
    droppable: tuple[str, ...]
    #: columns holding local times ``YYYY-MM-DD HH:MM:SS`` (CSV) or unix ms / s (JSON)
    times: tuple[str, ...] = ()
    #: CSV money columns in yuan
    money: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "jsonl" if self.file.endswith(".jsonl") else "csv"


CASES = [
    Case(
        "tmall_orders",
        "tmall_orders.csv",
        droppable=(
            "买家支付宝账号",
            "买家应付货款",
            "买家应付邮费",
            "总金额",
            "买家留言",
            "收货人姓名",
            "收货地址",
            "联系手机",
            "订单付款时间",
            "宝贝标题",
            "宝贝种类",
            "宝贝总数量",
            "店铺名称",
            "订单备注",
        ),
        times=("订单创建时间", "订单付款时间"),
        money=("买家实际支付金额", "退款金额", "买家应付邮费"),
    ),
    Case(
        "douyin_orders",
        "douyin_orders.csv",
        droppable=(
            "选购商品",
            "商品规格",
            "商品数量",
            "商品ID",
            "商品单价",
            "运费",
            "支付方式",
            "省",
            "市",
            "区",
            "买家留言",
            "支付完成时间",
            "订单完成时间",
            "达人ID",
            "达人昵称",
            "流量来源",
        ),
        times=("订单提交时间", "支付完成时间", "订单完成时间"),
        money=("订单应付金额", "商品单价", "运费"),
    ),
    Case(
        "youzan_orders",
        "youzan_orders.csv",
        droppable=(
            "买家付款时间",
            "商品名称",
            "商品数量",
            "收货人/提货人",
            "收货人手机号/提货人手机号",
            "粉丝昵称",
            "订单来源",
        ),
        times=("订单创建时间", "买家付款时间"),
        money=("订单实付金额",),
    ),
    Case(
        "miniapp_orders",
        "miniapp_orders.jsonl",
        droppable=("pay_time", "items", "address", "groupbuy_id", "channel_code"),
        times=("create_time", "pay_time"),
    ),
    Case("miniapp_events", "miniapp_events.jsonl", droppable=(), times=("ts",)),
    Case(
        "wecom_contacts",
        "wecom_contacts.jsonl",
        droppable=("errmsg", "external_contact.name", "external_contact.gender"),
        times=("follow_user.createtime",),
    ),
]

# Columns shops add that no preset reads (checked against the preset at run time).
EXTRA_COLUMNS = (
    "物流单号",
    "发票抬头",
    "会员等级",
    "内部编码",
    "导出批次",
    "Unnamed: 27",
    "质检结果",
)
EXTRA_KEYS = ("appid", "mch_id", "sdk_version", "trace_id", "_id", "env")
# Cell text for extra columns: digits, letters, CJK, and the CSV specials , and "
EXTRA_TEXT = st.text(alphabet='abcXYZ019 ,"-_:测试备注顺丰', max_size=12)
TEXT_ENCODINGS = ("utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16")


# ---------------------------------------------------------------- helpers


def _aliases(preset: Preset, field: str, documented: str) -> list[str]:
    """Other spellings of ``field`` that no other field claims (JSON: same parent object)."""
    taken = {header_key(a) for f, aliases in preset.columns.items() if f != field for a in aliases}
    parent = documented.rpartition(".")[0]
    out = []
    for a in preset.columns[field]:
        if header_key(a) in taken or a.rpartition(".")[0] != parent:
            continue
        if "." in a.rpartition(".")[2] or a.strip() != a:
            continue
        out.append(a)
    return out or [documented]


def _fields(preset: Preset, names: list[str]) -> dict[str, str]:
    """Documented column -> field."""
    return {col: f for f, col in resolve_columns(names, preset).items()}


def _local(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)


def _respell_local(text: str, how: str) -> str:
    try:
        t = _local(text)
    except ValueError:
        return text  # a damaged cell stays damaged
    return {
        "iso": text,
        "slash": t.strftime("%Y/%m/%d %H:%M:%S"),
        "t": t.strftime("%Y-%m-%dT%H:%M:%S"),
        "cn": t.strftime("%Y年%m月%d日 %H:%M:%S"),
        "offset": t.isoformat(),
        "unix_s": str(int(t.timestamp())),
        "unix_ms": str(int(t.timestamp()) * 1000),
    }[how]


def _respell_unix(value: object, how: str, unit: str) -> object:
    if not isinstance(value, int) or isinstance(value, bool):
        return value
    secs = value // 1000 if unit == "ms" else value
    t = dt.datetime.fromtimestamp(secs, SHANGHAI)
    return {
        "ms": secs * 1000,
        "s": secs,
        "ms_text": str(secs * 1000),
        "local": t.strftime("%Y-%m-%d %H:%M:%S"),
        "offset": t.isoformat(),
    }[how]


def _yuan_to_fen(text: str) -> str:
    try:
        return str(round(float(text.replace(",", "")) * 100))
    except ValueError:
        return text


# ---------------------------------------------------------------- CSV mutation


def _read_csv(case: Case) -> tuple[list[str], list[list[str]]]:
    with open(DATA / case.file, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


@st.composite
def csv_dialects(draw, case: Case, preset: Preset) -> dict:
    header, rows = _read_csv(case)
    fields = _fields(preset, header)
    rename = {c: draw(st.sampled_from(_aliases(preset, fields[c], c))) for c in header}
    droppable = [c for c in case.droppable if fields.get(c) not in preset.required]
    drop = draw(st.lists(st.sampled_from(droppable), unique=True, max_size=4)) if droppable else []
    pool = [c for c in EXTRA_COLUMNS if not resolve_columns([c], preset)]
    extra = draw(st.lists(st.sampled_from(pool), unique=True, max_size=3))
    extra_values = {
        c: draw(st.lists(EXTRA_TEXT, min_size=len(rows), max_size=len(rows))) for c in extra
    }
    n_cols = len(header) - len(drop) + len(extra)
    # Only where the ingest reads a unit from the header at all.
    fen_blocked = [
        c
        for c in case.money
        if resolve_columns([rename[c] + "(分)"], preset).get(fields[c]) is None
    ]
    return {
        "fen_blocked": fen_blocked,
        "rename": rename,
        "drop": drop,
        "extra": extra_values,
        "order": draw(st.permutations(range(n_cols))),
        "times": draw(st.sampled_from(["iso", "slash", "t", "cn", "offset", "unix_s", "unix_ms"])),
        "money": {
            c: draw(st.sampled_from(["plain", "sign", "yuan_word", "fen"])) for c in case.money
        },
        "encoding": draw(st.sampled_from(TEXT_ENCODINGS)),
        "delimiter": draw(st.sampled_from([",", "\t"])),
        "title": draw(st.sampled_from([None, "订单导出 2025-06-01", "导出时间：2025-06-01 10:00"])),
    }


def _write_csv(case: Case, d: dict, path: Path) -> Path:
    header, rows = _read_csv(case)
    cols = {h: [r[i] for r in rows] for i, h in enumerate(header)}
    for c in case.times:
        cols[c] = [_respell_local(v, d["times"]) if v else v for v in cols[c]]
    names = {h: d["rename"][h] for h in header}
    for c, how in d["money"].items():
        if how == "sign":
            cols[c] = ["¥" + v if v else v for v in cols[c]]
        elif how == "yuan_word":
            cols[c] = [v + "元" if v else v for v in cols[c]]
        elif how == "fen" and c not in d["fen_blocked"]:
            cols[c] = [_yuan_to_fen(v) if v else v for v in cols[c]]
            names[c] = names[c] + "(分)"
    out = {names[h]: cols[h] for h in header if h not in d["drop"]}
    out.update(d["extra"])
    order = [list(out)[i] for i in d["order"]]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=d["delimiter"], lineterminator="\r\n")
    if d["title"]:
        buf.write(d["title"] + "\r\n")
    w.writerow(order)
    w.writerows(zip(*(out[c] for c in order), strict=True))
    text = buf.getvalue()
    enc = d["encoding"]
    try:
        data = text.encode(enc)
    except UnicodeEncodeError:  # GBK has no emoji: what Excel does is write GB18030
        data = text.encode("gb18030")
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- JSON mutation


def _records(case: Case) -> list[dict]:
    return [json.loads(x) for x in (DATA / case.file).read_text(encoding="utf-8").splitlines()]


def _paths(rec: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in rec.items():
        out.append(prefix + k)
        if isinstance(v, dict):
            out.extend(_paths(v, prefix + k + "."))
    return out


def _objects(rec: dict, path: str) -> list[dict]:
    """The objects holding the leaf of ``path`` (a list of objects is entered)."""
    objs: list = [rec]
    for part in path.split(".")[:-1]:
        nxt = []
        for o in objs:
            v = o.get(part) if isinstance(o, dict) else None
            nxt.extend(v if isinstance(v, list) else [v])
        objs = [o for o in nxt if isinstance(o, dict)]
    return objs


@st.composite
def json_dialects(draw, case: Case, preset: Preset) -> dict:
    recs = _records(case)
    paths = list(dict.fromkeys(p for r in recs for p in _paths(r)))
    fields = _fields(preset, paths)
    rename = {}
    for p, f in fields.items():
        alias = draw(st.sampled_from(_aliases(preset, f, p)))
        if alias != p:
            rename[p] = alias
    droppable = [c for c in case.droppable if fields.get(c) not in preset.required]
    drop = draw(st.lists(st.sampled_from(droppable), unique=True)) if droppable else []
    pool = [k for k in EXTRA_KEYS if not resolve_columns([k], preset)]
    extra = draw(st.lists(st.sampled_from(pool), unique=True, max_size=3))
    unit = "s" if case.preset == "wecom_contacts" else "ms"
    times = ["ms", "s"] if unit == "s" else ["ms", "s", "ms_text", "local", "offset"]
    money = ["fen", "fen_text"]
    if case.preset == "miniapp_orders" and _declares_units(preset):
        money.append("yuan")
    return {
        "rename": rename,
        "drop": drop,
        "extra": {k: draw(st.one_of(EXTRA_TEXT, st.integers(0, 10**6), st.none())) for k in extra},
        "shuffle": draw(st.randoms(use_true_random=False)),
        "times": draw(st.sampled_from(times)),
        "unit": unit,
        "money": draw(st.sampled_from(money)) if case.preset == "miniapp_orders" else "fen",
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig"])),
    }


def _declares_units(preset: Preset) -> bool:
    """Yuan for fen needs a preset that reads the unit from the key (``amount`` = auto)."""
    units = preset.options.get("units", {})
    return units.get("amount") == "auto" and units.get("refund_amount") == "amount"


def _write_jsonl(case: Case, d: dict, path: Path) -> Path:
    recs = _records(case)
    for r in recs:
        for p in d["drop"]:
            for o in _objects(r, p):
                o.pop(p.rpartition(".")[2], None)
        for p in case.times:
            leaf = p.rpartition(".")[2]
            for o in _objects(r, p):
                if leaf in o:
                    o[leaf] = _respell_unix(o[leaf], d["times"], d["unit"])
        if d["money"] == "fen_text":
            for k in ("total_fee", "refund_fee"):
                if isinstance(r.get(k), int):
                    r[k] = str(r[k])
        elif d["money"] == "yuan":
            # the shop's own backend in yuan: keys that do not say fen
            for k, new in (("total_fee", "amount"), ("refund_fee", "refund_amount")):
                v = r.pop(k)
                r[new] = v / 100 if isinstance(v, int) else v
        for p, alias in d["rename"].items():
            leaf, new = p.rpartition(".")[2], alias.rpartition(".")[2]
            for o in _objects(r, p):
                if leaf in o and (d["money"] != "yuan" or leaf not in ("total_fee", "refund_fee")):
                    o[new] = o.pop(leaf)
        r.update(d["extra"])
    lines = []
    for r in recs:
        keys = list(r)
        d["shuffle"].shuffle(keys)
        lines.append(json.dumps({k: r[k] for k in keys}, ensure_ascii=False))
    path.write_bytes(("\n".join(lines) + "\n").encode(d["encoding"]))
    return path


# ---------------------------------------------------------------- canonical values


def _canonical(pf: ParsedFile, extra_keys: set[str]) -> dict[str, list]:
    t = pf.tables
    out: dict[str, list] = {}
    if "orders" in t:
        cols = ["order_id", "line_id", "account_id", "amount", "refund_amount", "status"]
        o = t["orders"]
        out["orders"] = sorted(
            (*(None if pd.isna(v) else v for v in row[:-1]), str(row[-1]))
            for row in o[[*cols, "created_at"]].itertuples(index=False)
        )
    if "events" in t:
        e = t["events"]
        attrs = [
            None if pd.isna(a) else {k: v for k, v in json.loads(a).items() if k not in extra_keys}
            for a in e["attributes"]
        ]
        out["events"] = sorted(
            (a, ty, str(ts), json.dumps(at, sort_keys=True, ensure_ascii=False))
            for a, ty, ts, at in zip(e["account_id"], e["type"], e["ts"], attrs, strict=True)
        )
    if pf.format == "wecom_contacts":
        i = t["identifiers"]
        keep = i["kind"].isin(["phone", "unionid", "external_userid"])
        out["identifiers"] = sorted(map(tuple, i.loc[keep, ["account_id", "kind", "value"]].values))
        out["accounts"] = sorted(map(str, t["accounts"][["account_id", "first_seen"]].values))
    return out


def _rows_out(pf: ParsedFile) -> int:
    """Input rows that reached the main table of the file."""
    main = {"wecom_contacts": "accounts", "miniapp_events": "events"}.get(pf.format, "orders")
    df = pf.tables.get(main)
    if df is None:
        return 0
    return int(df["source_line"].nunique()) if "source_line" in df.columns else len(df)


BASE: dict[str, tuple[ParsedFile, dict]] = {}


def _base(case: Case) -> tuple[ParsedFile, dict]:
    if case.preset not in BASE:
        pf = parse_file(DATA / case.file)
        BASE[case.preset] = (pf, _canonical(pf, set()))
    return BASE[case.preset]


def _check(case: Case, data: st.DataObject) -> None:
    preset = load_preset(case.preset)
    base, want = _base(case)
    assert base.format == case.preset
    strategy = csv_dialects if case.kind == "csv" else json_dialects
    d = data.draw(strategy(case, preset), label="dialect")
    with tempfile.TemporaryDirectory() as tmp:
        # a brand's folder names its files after the platform
        path = Path(tmp) / f"{case.preset}_fuzz.{case.kind}"
        (_write_csv if case.kind == "csv" else _write_jsonl)(case, d, path)
        pf = parse_file(path)
    assert pf.format == case.preset
    assert pf.rows_in == base.rows_in
    assert pf.rows_in == pf.accepted + pf.rejected
    assert pf.rejected == base.rejected, pf.rejects[["line", "column", "reason", "raw_value"]]
    if case.preset != "wecom_contacts":
        assert _rows_out(pf) == pf.accepted
    extra = set(d["extra"]) if case.kind == "jsonl" else set()
    assert _canonical(pf, extra) == want


# ---------------------------------------------------------------- tests


def test_base_files_parse_as_written():
    """The hand-made files themselves: every row accepted except the damaged ones."""
    expected_rejects = {
        "tmall_orders": 1,
        "douyin_orders": 1,
        "youzan_orders": 1,
        "miniapp_orders": 1,
        "miniapp_events": 0,
        "wecom_contacts": 0,
    }
    for case in CASES:
        pf, canon = _base(case)
        assert pf.format == case.preset
        assert pf.rejected == expected_rejects[case.preset], pf.rejects
        assert canon and all(canon.values())


@pytest.mark.parametrize("case", CASES, ids=[c.preset for c in CASES])
@settings(settings.get_profile("format-fuzz"))
@given(data=st.data())
def test_format_fuzz(case: Case, data: st.DataObject) -> None:
    _check(case, data)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.preset for c in CASES])
@settings(settings.get_profile("format-fuzz-slow"))
@given(data=st.data())
def test_format_fuzz_slow(case: Case, data: st.DataObject) -> None:
    _check(case, data)


# ---------------------------------------------------------------- what the fuzz found
# Ingest bugs the fuzz and these files found (fixed in scrm_lib/ingest), kept as regressions.


def test_jsonl_iso_times_keep_their_offset(tmp_path):
    """pyarrow.json used to infer ISO strings as naive UTC, then read as local: 8 h early."""
    path = tmp_path / "miniapp_events_iso.jsonl"
    path.write_text(
        '{"openid": "oQ1", "event": "page_view", "page": "p", '
        '"ts": "2025-06-01T08:00:40+08:00", "props": {}}\n',
        encoding="utf-8",
    )
    ts = parse_file(path).tables["events"]["ts"].iloc[0]
    assert ts == pd.Timestamp("2025-06-01 00:00:40", tz="UTC")


def test_status_label_with_a_fullwidth_comma(tmp_path):
    """Cells were folded with NFKC, the preset's [status] keys were not."""
    header, rows = _read_csv(CASES[0])
    rows = [r[:] for r in rows[:1]]
    rows[0][header.index("订单状态")] = "卖家已发货，等待买家确认"
    path = tmp_path / "tmall_orders_fw.csv"
    with open(path, "w", encoding="gbk", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    pf = parse_file(path)
    assert pf.rejected == 0
    assert pf.tables["orders"]["status"].tolist() == ["paid"]


def test_unit_suffixed_header_beats_a_weaker_alias(tmp_path):
    """买家实际支付金额(分) is the paid amount, not the exact but weaker alias 总金额."""
    header, rows = _read_csv(CASES[0])
    col = header.index("买家实际支付金额")
    header = [*header[:col], "买家实际支付金额(分)", *header[col + 1 :]]
    rows = [r[:] for r in rows[2:4]]  # unpaid orders: paid 0, total > 0
    for r in rows:
        r[col] = _yuan_to_fen(r[col])
    path = tmp_path / "tmall_orders_fen.csv"
    with open(path, "w", encoding="gbk", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    amounts = parse_file(path).tables["orders"]["amount"].tolist()
    assert amounts == [0.0, 0.0]
