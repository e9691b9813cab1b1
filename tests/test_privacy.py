"""Roles, masking and formula escaping."""

import json

import pandas as pd
import pytest

from scrm_lib.access.privacy import can, check_role, escape_formulas, mask_frame, mask_phone
from scrm_lib.errors import ConfigError


def test_role_rules():
    assert can("viewer", "view") and not can("viewer", "export") and not can("viewer", "unmask")
    assert can("marketer", "export") and not can("marketer", "unmask")
    assert can("admin", "unmask") and can("admin", "edit_identity")
    assert not can(None, "view") and not can("intruder", "view")
    with pytest.raises(ConfigError, match="'boss'"):
        check_role("boss")


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+8613812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("call 86-138-1234-5678 now", "call 138****5678 now"),
        ("order 4012345678901234", "order 4012345678901234"),  # 16 digits: not a mobile
    ],
)
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


def test_mask_frame_masks_personal_columns_only():
    df = pd.DataFrame(
        {
            "name": ["张三丰"],
            "phone": ["+8613812345678"],
            "email": ["alice@example.com"],
            "amount": [12.5],
            "platform": ["tmall"],
        }
    )
    out = mask_frame(df)
    assert out.loc[0, "name"] == "张**"
    assert out.loc[0, "phone"] == "138****5678"
    assert out.loc[0, "email"] == "a***@example.com"
    assert out.loc[0, "amount"] == 12.5 and out.loc[0, "platform"] == "tmall"
    assert df.loc[0, "name"] == "张三丰"  # the input is not changed


@pytest.mark.parametrize("table", ["channel_value", "channel_acquisition", None])
def test_a_channel_codes_name_is_not_a_persons(table):
    df = pd.DataFrame({"channel_name": ["门店收银台3"], "staff_name": ["王芳"]})
    out = mask_frame(df, table=table)
    assert out.loc[0, "channel_name"] == "门店收银台3"
    assert out.loc[0, "staff_name"] == "王*"  # the pattern still takes a person's name


def test_escape_formulas_quotes_every_formula_start():
    df = pd.DataFrame({"x": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "ok", None]})
    out = escape_formulas(df)["x"].tolist()
    assert out[:5] == ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", "ok"]
    assert pd.isna(out[5])


# ---------------------------------------------------------------- the declaration


def test_every_declared_column_exists_and_has_a_known_kind():
    from scrm_lib.schema import PERSONAL_COLUMN_NAMES, PERSONAL_COLUMNS, PERSONAL_KINDS, TABLES

    for table, cols in PERSONAL_COLUMNS.items():
        assert set(cols.values()) <= set(PERSONAL_KINDS), table
        if table in TABLES:
            assert set(cols) <= set(TABLES[table].names), table
    assert set(PERSONAL_COLUMN_NAMES.values()) <= set(PERSONAL_KINDS)
    # the personal columns of the canonical tables, spelled out once more on purpose
    assert PERSONAL_COLUMNS["orders"].keys() >= {
        "account_id", "recipient_name", "recipient_phone", "recipient_address", "extras",
    }  # fmt: skip
    assert PERSONAL_COLUMNS["referrals"] == {
        "inviter_account_id": "account",
        "invitee_account_id": "account",
    }


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("phone:+8615871261351", "phone:158****1351"),
        ("youzan:+8615871261351", "youzan:158****1351"),
        ("tmall:夏国华632341418", "tmall:夏**…"),
        ("tmall:dragon_liu", "tmall:d**…"),  # a Tmall nick is chosen by its owner
        ("wecom:王芳", "wecom:王**…"),
        ("acme:xia.guohua@example.com", "acme:x***@example.com"),
        ("douyin:13600002222", "douyin:136****2222"),
        ("wechat:oJm7dWDKddRzQXQuoh3-ti0A0baJ", "wechat:oJm7dWDKddRzQXQuoh3-ti0A0baJ"),
        ("wecom:wm0uXJksQ-hTM4qlFg9PDAMMptM8lpip", "wecom:wm0uXJksQ-hTM4qlFg9PDAMMptM8lpip"),
        ("xiaohongshu:5e8f00aa11bb22cc33dd44ee", "xiaohongshu:5e8f00aa11bb22cc33dd44ee"),
        ("+8613812345678", "138****5678"),  # a bare native id
    ],
)
def test_account_ids_mask_the_native_part_when_it_is_a_phone_or_a_name(raw, masked):
    for col in ("account_id", "inviter_account_id", "unit_id", "hub_account_id"):
        assert mask_frame(pd.DataFrame({col: [raw]}))[col].iloc[0] == masked, col


def test_native_id_goes_by_the_row_platform():
    df = pd.DataFrame({"platform": ["tmall", "wechat"], "native_id": ["tb617577978", "oAbC123"]})
    assert mask_frame(df, table="accounts")["native_id"].tolist() == ["t**…", "oAbC123"]


def test_identifier_values_are_masked_by_their_kind():
    kinds = ["phone", "name", "address", "email", "birthday", "city", "openid", "unionid", "new"]
    values = ["+8613812345678", "张三丰", "浙江省杭州市西湖区文三路477号", "alice@example.com",
              "1988-07-16", "杭州市", "oAbC123", "诸葛孔明", "secret"]  # fmt: skip
    df = pd.DataFrame({"account_id": "wechat:oAbC123", "kind": kinds, "value": values})
    out = mask_frame(df, table="identifiers")["value"].tolist()
    assert out == ["138****5678", "张**", "浙江省杭州市…", "a***@example.com", "1988-**-**",
                   "杭州市", "oAbC123", "诸**…", "s*****"]  # fmt: skip
    # the same values under a page's "role" column, or an edge's "kind"
    shown = mask_frame(df.rename(columns={"kind": "role"}))["value"].tolist()
    assert shown == out
    assert mask_frame(df, table="identity_edges")["value"].tolist() == out


def test_json_extras_keep_keys_and_hide_values():
    df = pd.DataFrame({"extras": ['{"收货人":"夏国华","备注":"call 13922223333","n":13922223333,'
                                  '"tags":["老带新"]}', None]})  # fmt: skip
    out = mask_frame(df, table="orders")["extras"]
    assert out.iloc[0] == '{"收货人":"夏***","备注":"c***","n":139****3333,"tags":["老***"]}'
    assert pd.isna(out.iloc[1])


def test_free_text_and_other_phones():
    df = pd.DataFrame(
        {
            "text": ["我的手机是 139 8765 4321，邮箱 a.b@x.cn，身份证 330106198807161234"],
            "recipient_phone": ["0571-88886666"],
            "example_values": [["13800009999", "--"]],
            "amount": [1.0],
        }
    )
    out = mask_frame(df)
    assert out.loc[0, "text"] == "我的手机是 139****4321，邮箱 a***@x.cn，身份证 330106********1234"
    assert out.loc[0, "recipient_phone"] == "****-****6666"
    assert out.loc[0, "example_values"] == ["138****9999", "--"]


def test_exports_are_masked_unless_unmasked(tmp_path):
    from scrm_lib.access.privacy import export_bytes, write_export

    df = pd.DataFrame(
        {"account_id": ["youzan:+8615871261351"], "display_name": ["=龚丽娟"],
         "ts": pd.to_datetime(["2025-03-01 10:00"], utc=True)}
    )  # fmt: skip
    text = export_bytes(df).decode("utf-8-sig")
    assert "youzan:158****1351" in text and "'=**" in text and "15871261351" not in text
    clear = export_bytes(df, unmask=True).decode("utf-8-sig")
    assert "youzan:+8615871261351" in clear and "'=龚丽娟" in clear
    out = write_export(df, tmp_path / "x.xlsx")
    back = pd.read_excel(out, engine="calamine", dtype=str)
    assert back.loc[0, "account_id"] == "youzan:158****1351"
    records = json.loads(write_export(df, tmp_path / "x.json").read_text("utf-8"))
    assert records[0]["account_id"] == "youzan:158****1351"
    assert records[0]["display_name"].startswith("'=")  # escaped for a tool that opens it in Excel
    with pytest.raises(ConfigError, match="parquet"):
        write_export(df, tmp_path / "x.parquet")


def test_report_notebooks_display_frames_masked():
    from IPython.core.interactiveshell import InteractiveShell

    from scrm_lib.access.privacy import mask_displayed_frames

    assert mask_displayed_frames() is False  # not in IPython: nothing registered
    shell = InteractiveShell.instance()
    try:
        assert mask_displayed_frames()
        df = pd.DataFrame({"account_id": ["phone:+8615871261351"], "display_name": ["夏国华"]})
        data, _ = shell.display_formatter.format(df)
        assert "158****1351" in data["text/html"] and "15871261351" not in data["text/html"]
        assert "夏**" in data["text/plain"] and "夏国华" not in data["text/plain"]
        styled = df.assign(gmv=[1234.5]).style.format({"gmv": "¥{:,.0f}"}).hide(axis="index")
        data, _ = shell.display_formatter.format(styled)
        assert "158****1351" in data["text/html"] and "夏国华" not in data["text/html"]
        assert "¥1,234" in data["text/html"]
    finally:
        InteractiveShell.clear_instance()
