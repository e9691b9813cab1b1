"""Roles, masking and formula escaping."""

import pandas as pd
import pytest

from scrm_lib.errors import ConfigError
from scrm_lib.privacy import can, check_role, escape_formulas, mask_frame, mask_phone


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


def test_escape_formulas_quotes_every_formula_start():
    df = pd.DataFrame({"x": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "ok", None]})
    out = escape_formulas(df)["x"].tolist()
    assert out[:5] == ['\'=HYPERLINK("http://x")', "'+1", "'-2", "'@SUM(A1)", "ok"]
    assert pd.isna(out[5])
