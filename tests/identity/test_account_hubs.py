"""An account key typed by staff (a counter phone, a store's shared login) is a hub, not a buyer.

Built the normal way (raw files → ``build``) from files written here, in
other shops' dialects: a Youzan export whose counter phone is 买家手机号 on
150 orders to 150 different recipients (columns reordered, an extra column,
phones in several spellings, a 收货地址 column), a real buyer who sends
gifts to three people (must not be flagged), a mini-program user holding one
recipient's phone, and a Tmall store login used for 25 walk-in customers.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from scrm_lib.config import load_settings
from scrm_lib.engine import duckdb_connect
from scrm_lib.errors import ConfigError
from scrm_lib.identity.config import identity_config
from scrm_lib.warehouse.build import build

COUNTER = "+8613800138000"
COUNTER_SPELLINGS = ["138-0013-8000", "+86 138 0013 8000", "１３８００１３８０００", "13800138000"]
GIFTER = "+8613700000007"
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"


def _name(i: int) -> str:
    return SURNAMES[i % 20] + GIVEN[(i // 20) % 20] + "一二三四五六七八"[i // 400 % 8]


def _youzan_rows() -> list[dict[str, str]]:
    rows = []

    def order(no, buyer, name, phone, address, amount, day):
        rows.append(
            {
                "收货人": name,
                "订单号": f"E2025{no:06d}",
                "订单实付金额": f"{amount:.2f}",
                "买家手机号": buyer,
                "收货人手机号": phone,
                "收货地址": address,
                "订单状态": "交易成功",
                "订单创建时间": f"2025-{1 + day % 11:02d}-{1 + day % 27:02d} 10:{day % 60:02d}:00",
                "买家付款时间": f"2025-{1 + day % 11:02d}-{1 + day % 27:02d} 10:{day % 60:02d}:30",
                "商品名称": "面霜",
                "粉丝昵称": "",
                "门店": "西湖店",  # an extra column other exports do not have
            }
        )

    # 150 walk-in customers, the counter phone typed as the buyer's
    for i in range(150):
        phone = f"139 0000 {i:04d}" if i < 140 else ""
        address = f"浙江省杭州市西湖区文三路{i + 1}号" if i < 146 else ""
        order(i, COUNTER_SPELLINGS[i % 4], _name(i), phone, address, 100 + i, i)
    # recipient 0 also buys on Youzan with their own phone
    order(900, "13900000000", _name(0), "13900000000", "浙江省杭州市西湖区文三路1号", 88, 3)
    order(901, "139-0000-0000", _name(0), "", "", 66, 40)
    # a real buyer who sends gifts to three people (and buys for herself): not a hub
    gifts = [
        ("王小梅", "13700000007", "上海市徐汇区漕溪北路1号"),
        ("王小梅", "13700000007", "上海市徐汇区漕溪北路1号"),
        ("王母", "13600000001", "江苏省苏州市姑苏区人民路5号"),
        ("李闺蜜", "13600000002", "上海市静安区南京西路9号"),
        ("王母", "13600000001", "江苏省苏州市姑苏区人民路5号"),
        ("张同事", "13600000003", "上海市浦东新区世纪大道100号"),
    ]
    for k, (name, phone, address) in enumerate(gifts):
        order(950 + k, "+86 137 0000 0007", name, phone, address, 200 + k, 60 + k)
    # a buyer of three orders for herself
    for k in range(3):
        order(980 + k, "13500000005", "周敏", "13500000005", "北京市朝阳区建国路8号", 50, 70 + k)
    return rows


#: Recipients as a store's staff typed four of them: a city, stars, a title, a product.
TYPED_RECIPIENTS = {
    0: _name(300) + " 宁波",
    1: "★" + _name(301) + "★",
    2: "王女士",
    3: _name(303) + "-面霜",
}


def _tmall_rows() -> list[dict[str, str]]:
    rows = []
    for i in range(25):
        rows.append(
            {
                "订单编号": f'="70{i:014d}"',
                "买家会员名": "门店收银01",
                "收货人姓名": TYPED_RECIPIENTS.get(i, _name(300 + i)),
                "收货地址": f"浙江省宁波市海曙区中山西路{i + 10}号",
                "联系手机": f"158****{i:04d}",
                "买家实际支付金额": "99.00",
                "订单状态": "交易成功",
                "订单创建时间": "2025/03/01 09:00",
                "订单付款时间": "2025/03/01 09:01",
            }
        )
    for k, name in enumerate(["钱多多", "钱多多", "钱母", "钱父", "钱哥"]):
        rows.append(
            {
                "订单编号": f'="71{k:014d}"',
                "买家会员名": "tb_qianduo",
                "收货人姓名": name,
                "收货地址": f"广东省广州市天河区体育西路{k % 4}号",
                "联系手机": f"186****{k % 4:04d}",
                "买家实际支付金额": "120.00",
                "订单状态": "交易成功",
                "订单创建时间": "2025/04/01 09:00",
                "订单付款时间": "2025/04/01 09:01",
            }
        )
    return rows


def _csv(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The published warehouse of a home holding the hand-made exports."""
    root = tmp_path_factory.mktemp("hubhome")
    raw = root / "data" / "raw"
    raw.mkdir(parents=True)
    (root / "scrm.toml").write_text("", encoding="utf-8")
    (raw / "youzan_orders_2025.csv").write_text(_csv(_youzan_rows()), encoding="utf-8-sig")
    (raw / "tmall_orders_2025.csv").write_bytes(_csv(_tmall_rows()).encode("gbk"))
    users = [
        {"openid": "oRecipient1", "phone": "+86 139 0000 0001", "subscribe_time": 1735700000},
        {"openid": "oStranger", "nickname": "路人", "subscribe_time": 1735700000},
    ]
    (raw / "miniapp_users.jsonl").write_text(
        "\n".join(json.dumps(u, ensure_ascii=False) for u in users) + "\n", encoding="utf-8"
    )
    # staff recorded the counter phone as two WeCom contacts' mobile: it links nobody
    contacts = [
        {
            "errcode": 0,
            "errmsg": "ok",
            "external_contact": {"external_userid": f"wmCounter{k}", "name": f"店员{k}"},
            "follow_user": [
                {
                    "userid": "zhangsan",
                    "remark": "",
                    "createtime": 1735700000 + k,
                    "remark_mobiles": [COUNTER_SPELLINGS[k]],
                }
            ],
        }
        for k in range(2)
    ]
    (raw / "wecom_contacts.jsonl").write_text(
        "\n".join(json.dumps(c, ensure_ascii=False) for c in contacts) + "\n", encoding="utf-8"
    )
    settings = load_settings(root)
    wh = root / "data" / "warehouse" / "scrm.duckdb"
    build(raw_dir=raw, warehouse=wh, settings=settings)
    return wh


@pytest.fixture(scope="module")
def home(built):
    con = duckdb_connect(built, read_only=True)
    yield con
    con.disconnect()


def _q(con, sql: str, *params) -> pd.DataFrame:
    return con.con.execute(sql, list(params)).df()


def test_counter_phone_is_reported_as_an_account_key_hub(home):
    hubs = _q(home, "SELECT * FROM identity_hubs WHERE scope = 'account_key'")
    by = hubs.set_index("account_id")
    assert f"youzan:{COUNTER}" in by.index
    row = by.loc[f"youzan:{COUNTER}"]
    assert row["n_orders"] == 150 and row["n_receiver_names"] >= 140
    assert row["n_receiver_phones"] == 140 and row["kind"] == "phone" and row["value"] == COUNTER
    # the store's shared Tmall login too (names and addresses; its phones are masked)
    assert "tmall:门店收银01" in by.index
    # a buyer who sends gifts to three people is a customer, not a hub
    assert f"youzan:{GIFTER}" not in by.index and "tmall:tb_qianduo" not in by.index
    assert not by.index.str.contains("13500000005").any()
    # identifier hubs keep their own scope
    assert set(_q(home, "SELECT DISTINCT scope FROM identity_hubs")["scope"]) <= {
        "account_key",
        "identifier",
    }


def test_hub_orders_go_to_their_recipients_never_to_one_person(home):
    po = _q(
        home,
        """
        SELECT o.platform, o.order_id, o.account_id AS order_account, pa.person_id
        FROM orders o LEFT JOIN person_accounts pa USING (account_id)
        """,
    )
    assert len(po) == 150 + 2 + 6 + 3 + 30  # every order kept
    hub_person = _q(
        home, "SELECT person_id FROM person_accounts WHERE account_id = ?", f"youzan:{COUNTER}"
    )["person_id"].iloc[0]
    per_person = po.groupby("person_id").size()
    # no person holds the counter's orders: the biggest is the gift buyer's six
    assert per_person.drop(hub_person, errors="ignore").max() == 6
    # orders with a recipient phone went to that phone's person; with only a name and an
    # address, to a person of that name and address; with neither, to no customer
    left = po[po["order_account"] == f"youzan:{COUNTER}"]
    assert sorted(left["order_id"]) == [f"E2025{i:06d}" for i in range(146, 150)]
    # recipient 0 bought on Youzan too: the counter order joins her own two
    pa = _q(home, "SELECT account_id, person_id FROM person_accounts").set_index("account_id")
    own = pa.loc["youzan:+8613900000000", "person_id"]
    assert per_person[own] == 3
    # recipient 1 is a mini-program user with that phone: the order is hers
    assert (
        pa.loc["wechat:oRecipient1", "person_id"]
        == po.loc[po["order_id"] == "E2025000001", "person_id"].iloc[0]
    )
    # the hub account is never merged with anyone, and its key links no one else either
    assert (pa["person_id"] == hub_person).sum() == 1
    assert pa.loc["wecom:wmCounter0", "person_id"] != pa.loc["wecom:wmCounter1", "person_id"]
    shared = _q(
        home,
        "SELECT n_accounts FROM identity_hubs WHERE scope = 'identifier' "
        "AND kind = 'phone' AND value = ?",
        COUNTER,
    )
    assert shared["n_accounts"].tolist() == [2]


def test_value_marts_never_show_the_hub_as_a_customer(home):
    vp = _q(home, "SELECT * FROM value_persons").set_index("person_id")
    pa = _q(home, "SELECT account_id, person_id FROM person_accounts").set_index("account_id")
    for hub in (f"youzan:{COUNTER}", "tmall:门店收银01"):
        assert pa.loc[hub, "person_id"] not in vp.index
    assert vp["frequency"].max() == 6
    gifter = pa.loc[f"youzan:{GIFTER}", "person_id"]
    assert vp.loc[gifter, "frequency"] == 6
    assert vp.loc[gifter, "monetary"] == pytest.approx(sum(200 + k for k in range(6)))
    assert vp.loc[pa.loc["wechat:oRecipient1", "person_id"], "frequency"] == 1
    # the four counter orders with no recipient evidence are nobody's purchases; the
    # store login's 25 went to 25 people by recipient name and address
    assert vp["frequency"].sum() == (150 - 4) + 2 + 6 + 3 + 5 + 25
    top = vp.sort_values("monetary", ascending=False)
    assert top.index[0] == gifter
    assert (vp["rfm_segment"] != "none").sum() == len(vp[vp["frequency"] > 0])


def test_unattributed_hub_orders_count_in_brand_gmv_not_under_a_person(built, home):
    from scrm_lib.value._base import as_of_cut, person_orders, value_config
    from scrm_lib.value.kpis import kpis

    settings = load_settings(built.parents[2])
    vcfg = value_config(settings)
    every = home.execute(person_orders(home, cfg=vcfg, unattributed=True))
    owned = home.execute(person_orders(home, cfg=vcfg))
    nobody = every[every["person_id"].isna()]
    assert sorted(nobody["order_id"]) == [f"E2025{i:06d}" for i in range(146, 150)]
    assert len(owned) == len(every) - 4 and owned["person_id"].notna().all()

    # 28 days to 2025-04-20 hold counter order 146 (2025-04-12, 246 CNY, no recipient
    # evidence) and the Tmall gift buyer's five orders of 2025-04-01
    cut = as_of_cut("2025-04-20", settings.timezone)
    start = cut.cutoff_epoch - 28 * 86400
    o = _q(
        home,
        """
        SELECT order_id, platform, sum(amount - coalesce(refund_amount, 0)) AS net
        FROM orders WHERE epoch(coalesce(paid_at, created_at)) >= ?
          AND epoch(coalesce(paid_at, created_at)) < ?
        GROUP BY ALL
        """,
        start,
        cut.cutoff_epoch,
    )
    assert "E2025000146" in set(o["order_id"]) and o["platform"].nunique() == 2
    crm = o.loc[o["platform"].isin(["youzan", "wechat"]), "net"].sum()
    share = kpis(built, as_of="2025-04-20", settings=settings).set_index("kpi")["value"]
    assert share["crm_gmv_share"] == pytest.approx(crm / o["net"].sum())
    assert share["crm_gmv_share"] != pytest.approx((crm - 246) / (o["net"].sum() - 246))


def test_split_is_in_the_ledger(home):
    led = _q(home, "SELECT * FROM identity_edges WHERE stage = 'hub_split'")
    assert len(led) and not led["used"].any()
    assert set(led["a"]) == {f"youzan:{COUNTER}", "tmall:门店收银01"}
    rules = led.groupby("a")["rule"].value_counts().to_dict()
    assert rules == {
        (f"youzan:{COUNTER}", "receiver_phone"): 140,
        (f"youzan:{COUNTER}", "receiver_name_address"): 6,
        ("tmall:门店收银01", "receiver_name_address"): 25,
    }
    per_order = _q(home, "SELECT evidence, count(*) AS n FROM identity_hub_orders GROUP BY 1")
    assert dict(zip(per_order["evidence"], per_order["n"], strict=True)) == {
        "receiver_phone": 140,
        "receiver_name_address": 31,
        "unattributed": 4,
    }
    hub = _q(home, "SELECT * FROM identity_hubs WHERE account_id = ?", f"youzan:{COUNTER}")
    assert hub["n_unattributed"].tolist() == [4]
    # the hub keeps its key, not its recipients' names
    kinds = _q(home, "SELECT kind FROM identifiers WHERE account_id = ?", f"youzan:{COUNTER}")
    assert set(kinds["kind"]) == {"phone"}


def test_accounts_split_off_a_hub_carry_the_cleaned_recipient_name(home):
    derived = _q(
        home,
        """
        SELECT e.b AS account_id, a.display_name,
            (SELECT list(i.value ORDER BY i.value) FROM identifiers i
             WHERE i.account_id = e.b AND i.kind = 'name') AS names
        FROM identity_edges e JOIN accounts a ON a.account_id = e.b
        WHERE e.stage = 'hub_split' AND e.a = 'tmall:门店收银01'
        """,
    )
    assert len(derived) == 25
    shown = derived["display_name"].dropna().tolist()
    # the three typed around a name keep the name alone; 王女士 names nobody
    for name in ("赵明一", "钱明一", "李明一"):
        assert shown.count(name) == 1
    assert len(shown) == 24 and not any(("宁波" in n or "★" in n or "-" in n) for n in shown)
    names = [n for ns in derived["names"].dropna() for n in ns]
    assert sorted(names) == sorted(shown) and "王女士" not in names
    assert derived.loc[derived["display_name"].isna(), "names"].isna().all() or all(
        len(ns) == 0 for ns in derived.loc[derived["display_name"].isna(), "names"]
    )


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"account_hub_limit": 1}, "account_hub_limit"),
        ({"account_hub_limit": "ten"}, "account_hub_limit"),
        ({"account_hub_device_limit": 0}, "account_hub_device_limit"),
    ],
)
def test_account_hub_settings_are_validated(setting, message):
    with pytest.raises(ConfigError, match=message):
        identity_config({"identity": setting})
    assert identity_config({}).account_hub_limit == 10


def test_no_account_hub_leaves_typed_empty_columns(tiny):
    """A warehouse without account-key hubs: the hub table's account ids are text."""
    from scrm_lib.identity.step import run
    from scrm_lib.value._base import person_orders, value_config
    from scrm_lib.warehouse.steps import StepContext

    con = duckdb_connect(tiny["warehouse"])
    try:
        run(StepContext(con, tiny["settings"], "b1"))
        types = dict(
            con.con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name IN ('identity_hubs', 'identity_hub_orders') "
                "AND column_name IN ('account_id', 'hub_account_id', 'scope')"
            ).fetchall()
        )
        assert set(types.values()) == {"VARCHAR"}
        # the value marts read orders through it (this failed on an all-null column)
        assert con.execute(person_orders(con, cfg=value_config(tiny["settings"]))).empty
    finally:
        con.disconnect()


def test_identity_page_and_cli_show_the_shared_key(built, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from scrm_lib.access.users import add_user
    from scrm_lib.identity import views
    from tests.sample_project import scrm

    keys = views.hubs(built, scope="account_key")
    assert keys["account_id"].tolist() == ["youzan:138****8000", "tmall:门店收银01"]
    assert keys["n_unattributed"].tolist() == [4, 0]
    _, _, edges = views.explain_frames(built, "youzan:+8613900000000")
    split = edges[edges["stage"] == "hub_split"]
    assert split["evidence"].tolist() == ["order of a shared key, by recipient phone 139****0000"]

    users = tmp_path / "users.yaml"
    add_user("vera", "demo-pass-123", role="viewer", path=users)
    monkeypatch.setenv("SCRM_USERS_FILE", str(users))
    monkeypatch.setenv("SCRM_STATE_DB", str(tmp_path / "state.duckdb"))
    monkeypatch.setenv("SCRM_WAREHOUSE", str(built))
    app = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
    at = AppTest.from_file(str(app), default_timeout=60)
    for key, value in (("authentication_status", True), ("username", "vera"), ("name", "vera")):
        at.session_state[key] = value
    at.session_state["roles"] = ["viewer"]
    at.session_state["logout"] = None
    at.run()
    at.switch_page("views/identity.py").run()
    assert not at.exception
    shown = [df.value for df in at.dataframe]
    # the column under its own name or the label the page gives it
    names = ("n_receiver_names", "收货人数", "Recipient names")
    assert any(len(df) == 2 and any(n in str(c) for c in df.columns for n in names) for df in shown)

    out = scrm("identity", "hubs", "--scope", "account_key", "--json", cwd=built.parents[2])
    assert [h["account_id"] for h in json.loads(out.stdout)] == [
        "youzan:138****8000",
        "tmall:门店收银01",
    ]
