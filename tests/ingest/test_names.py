"""Name cleaning of WeCom remarks and nicknames: a table of what reps really type."""

from __future__ import annotations

import pandas as pd
import pytest

from scrm_lib.ingest.names import clean_person_name, person_name_parts

NA = None

# (typed text, cleaned name, surname carried by a form of address)
CASES = [
    # name + city, with and without a separator, either side, province and city
    ("孙梅 杭州", "孙梅", NA),
    ("孙梅杭州", "孙梅", NA),
    ("杭州 孙梅", "孙梅", NA),
    ("杭州孙梅", "孙梅", NA),
    ("孙梅 浙江杭州", "孙梅", NA),
    ("孙梅浙江省杭州市", "孙梅", NA),
    ("孙梅,杭州", "孙梅", NA),
    ("诸葛亮 成都", "诸葛亮", NA),
    ("李娜 乌鲁木齐", "李娜", NA),
    # name + product
    ("孙梅-护肤", "孙梅", NA),
    ("孙梅－护肤", "孙梅", NA),
    ("孙梅—纸尿裤", "孙梅", NA),
    ("孙梅(面霜)", "孙梅", NA),
    ("孙梅（面霜）", "孙梅", NA),
    ("孙梅/精华", "孙梅", NA),
    ("孙梅_杭州_面霜", "孙梅", NA),
    ("孙梅【老客】", "孙梅", NA),
    ("【VIP】孙梅", "孙梅", NA),
    ("陈静（宝妈）", "陈静", NA),
    # name + phone digits, sorting prefixes
    ("孙梅 5678", "孙梅", NA),
    ("孙梅1381234", "孙梅", NA),
    ("张三丰-13812345678", "张三丰", NA),
    ("138-1234-孙梅", "孙梅", NA),
    ("A孙梅", "孙梅", NA),
    ("孙梅VIP", "孙梅", NA),
    # emoji and decorations
    ("🌸孙梅🌸", "孙梅", NA),
    ("✨孙梅✨💕", "孙梅", NA),
    ("★孙梅★", "孙梅", NA),
    ("~孙梅~", "孙梅", NA),
    # forms of address: a surname alone is no name
    ("王女士", NA, "王"),
    ("张姐", NA, "张"),
    ("李先生", NA, "李"),
    ("刘总", NA, "刘"),
    ("刘总监", NA, "刘"),
    ("黄小姐", NA, "黄"),
    ("赵老师", NA, "赵"),
    ("小王", NA, "王"),
    ("老王", NA, "王"),
    ("欧阳女士", NA, "欧阳"),
    ("王 女士", NA, "王"),
    ("阿梅", NA, NA),
    ("王丽女士", "王丽", NA),
    ("张丽老师", "张丽", NA),
    # ordinary names are left alone, also when they end like a title or a place
    ("王芳", "王芳", NA),
    ("李小龙", "李小龙", NA),
    ("欧阳娜娜", "欧阳娜娜", NA),
    ("司马相如", "司马相如", NA),
    ("王海南", "王海南", NA),
    ("陈丽江", "陈丽江", NA),
    ("欧阳海南", "欧阳海南", NA),
    ("李招弟", "李招弟", NA),
    ("王小妹", "王小妹", NA),
    ("阿卜杜·热合曼", "阿卜杜·热合曼", NA),
    ("孙 梅", "孙梅", NA),
    # Latin names
    ("Amy Wang", "Amy Wang", NA),
    ("amy-护肤", "amy", NA),
    ("Ｗａｎｇ　Ｆａｎｇ", "Wang Fang", NA),
    ("Amy 杭州", "Amy", NA),
    # nothing that names a person
    ("杭州", NA, NA),
    ("客户", NA, NA),
    ("丽", NA, NA),
    ("13812345678", NA, NA),
    ("🌸🌸", NA, NA),
    ("", NA, NA),
    (NA, NA, NA),
]


@pytest.mark.parametrize(("typed", "name", "surname"), CASES, ids=[repr(c[0]) for c in CASES])
def test_case_table(typed, name, surname) -> None:
    got = person_name_parts(pd.Series([typed], dtype="str")).iloc[0]
    assert (None if pd.isna(got["name"]) else got["name"]) == name
    assert (None if pd.isna(got["surname"]) else got["surname"]) == surname


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 30


def test_whole_column_at_once_keeps_index_and_order() -> None:
    typed = [c[0] for c in CASES]
    index = pd.Index([f"r{i}" for i in range(len(typed))])
    got = clean_person_name(pd.Series(typed, index=index, dtype="str"))
    assert got.index.equals(index)
    want = pd.Series([c[1] for c in CASES], index=index, dtype="str")
    pd.testing.assert_series_equal(got, want, check_names=False)


def test_repeated_values_and_object_dtype() -> None:
    got = clean_person_name(pd.Series(["孙梅 杭州", None, "孙梅 杭州", "张姐"], dtype=object))
    assert got.tolist()[0] == got.tolist()[2] == "孙梅"
    assert got.isna().tolist() == [False, True, False, True]


def test_not_a_series_is_refused() -> None:
    with pytest.raises(TypeError, match="Series"):
        clean_person_name(["孙梅"])  # type: ignore[arg-type]
