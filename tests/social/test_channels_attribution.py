"""Attribution rules, hand-made warehouse: ties, a touch after the first order, two platforms."""

from __future__ import annotations

import pytest

from scrm_lib.social.channels.analysis import acquisition, attribution, unknown_codes

FIRST = {  # person → (channel type, code, touch, staff)
    "PA": ("广告", "AD1", "qr_scan", None),  # the wechat scan came before the WeCom add
    "PB": ("活码", "HM1", "wecom_add", "s1"),  # same second as a poster scan: the add wins
    "PC": ("organic", None, None, None),  # the scan came after the first order
    "PD": ("organic", None, None, None),
    "PE": ("unknown_code", "ZZ9", "qr_scan", None),
    "PF": ("referral", None, "referral", None),
    "PG": ("referral", None, "referral", None),
    "PH": ("organic", None, None, None),  # invited themselves: not a referral
    "PI": ("douyin_influencer", "DR1", "influencer", None),
    "PJ": ("海报", "HB1", "qr_scan", None),
}


def _by_person(df):
    return {r.person_id: r for r in df.itertuples()}


@pytest.mark.parametrize("rule", ["first_touch", "last_touch"])
def test_each_person_gets_the_rules_channel(warehouse, settings, rule):
    got = _by_person(acquisition(warehouse, rule=rule, settings=settings))
    expected = dict(FIRST)
    if rule == "last_touch":
        # PA's last touch before the Tmall order is the WeCom add, by staff s2
        expected["PA"] = ("活码", "HM1", "wecom_add", "s2")
    assert set(got) == set(expected)
    for pid, (ctype, code, touch, staff) in expected.items():
        r = got[pid]
        assert (r.channel_type, _none(r.channel_code), _none(r.touch), _none(r.staff_id)) == (
            ctype, code, touch, staff,
        ), pid  # fmt: skip


def _none(v):
    return None if v is None or v != v else v


def test_campaign_and_staff_come_from_the_channels_table(warehouse, settings):
    got = _by_person(acquisition(warehouse, settings=settings))
    assert got["PB"].campaign == "C1" and got["PA"].campaign == "C1"
    assert got["PF"].campaign == "老带新"  # a referral's campaign is the invite's


def test_a_referral_by_a_customer_is_high_value(warehouse, settings):
    got = _by_person(acquisition(warehouse, settings=settings))
    assert got["PF"].high_value_referral  # PA had bought before inviting
    assert not got["PG"].high_value_referral  # PD never bought
    assert got["PF"].inviter_person_id == "PA"


def test_evidence_names_the_row(warehouse, settings):
    got = _by_person(acquisition(warehouse, settings=settings))
    assert got["PA"].evidence == "events:wechat:a-qr_scan-2026-01-03T09:00:00Z"
    assert got["PI"].evidence == "orders:douyin:o-i1"
    assert got["PA"].touch_platform == "wechat"
    assert str(got["PA"].touch_at) == "2026-01-03 09:00:00+00:00"


def test_one_person_with_every_touch(warehouse, settings):
    data = attribution("PA", warehouse, settings=settings)
    assert data["acquisition"]["channel_code"] == "AD1"
    touches = [(t["touch"], t["channel_code"]) for t in data["touches"]]
    assert touches == [("qr_scan", "AD1"), ("wecom_add", "HM1")]


def test_an_unknown_person_is_one_line(warehouse, settings):
    from scrm_lib.errors import ConfigError

    with pytest.raises(ConfigError, match="no person 'PX'"):
        attribution("PX", warehouse, settings=settings)


def test_unknown_codes_are_counted_and_reported(warehouse):
    df = unknown_codes(warehouse)
    assert df.to_dict("records") == [{"channel_code": "ZZ9", "touches": 1, "persons": 1}]


def test_a_bad_rule_is_refused(warehouse, settings):
    from scrm_lib.errors import ConfigError

    with pytest.raises(ConfigError, match="attribution must be one of"):
        acquisition(warehouse, rule="linear", settings=settings)
