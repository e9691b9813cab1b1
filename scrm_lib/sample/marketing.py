"""Acquisition channels, the marketing tool's send log, and consent records."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scrm_lib.sample import vocab
from scrm_lib.sample.files import money
from scrm_lib.sample.timeline import DAY, Window

CHANNEL_TYPES = [
    ("活码", "HM", 0.45, (0, 300)),
    ("海报", "HB", 0.15, (200, 2000)),
    ("广告", "AD", 0.15, (5000, 60000)),
    ("直播间", "ZB", 0.1, (10000, 120000)),
    ("门店", "MD", 0.15, (1000, 6000)),
]
CHANNEL_NAMES = {
    "活码": ["导购{}号活码", "客服活码{}", "社群引流码{}"],
    "海报": ["新品海报{}", "会员日海报{}", "拼团海报{}"],
    "广告": ["朋友圈广告{}", "巨量引擎投放{}", "小红书种草{}"],
    "直播间": ["品牌直播间{}", "达人直播间{}"],
    "门店": ["门店收银台{}", "门店试用台{}"],
}


#: Campaigns that acquisition codes are grouped under (the year is put in front).
CHANNEL_CAMPAIGNS = ["双11拉新", "618会员招募", "年货节引流", "门店开业季", "新品种草"]
#: Codes outside any campaign, and codes whose cost nobody recorded (their ROI is unknown).
NO_CAMPAIGN_SHARE = 0.3
NO_COST_SHARE = 0.15
#: Spread of the per-code value multiplier (lognormal sigma, mean 1) and its bounds.
VALUE_SIGMA = 0.8
VALUE_BOUNDS = (0.3, 3.0)
#: The columns of channels.csv (the frame also carries the truth column ``multiplier``).
CHANNEL_COLUMNS = ["渠道码", "渠道名称", "渠道类型", "活动", "导购", "成本", "创建时间"]


def make_channels(
    rng: np.random.Generator, n_persons: int, window: Window, staff: pd.DataFrame
) -> pd.DataFrame:
    """The acquisition codes: channels.csv's columns plus the true ``multiplier``.

    Each code has a campaign (a few campaigns of several codes each; some
    codes none), a 活码 the staff member (导购) whose WeCom it adds customers
    to, a cost (blank for some), and a value multiplier: the purchase rate of
    the persons it acquires is scaled by it, so codes differ in true value.
    """
    n = int(min(400, 30 + n_persons // 5000))
    k = rng.choice(len(CHANNEL_TYPES), size=n, p=[c[2] for c in CHANNEL_TYPES])
    rows = []
    counter: dict[str, int] = {}
    for i in k:
        typ, prefix, _, (lo, hi) = CHANNEL_TYPES[i]
        counter[prefix] = counter.get(prefix, 0) + 1
        num = counter[prefix]
        names = CHANNEL_NAMES[typ]
        rows.append(
            (
                f"{prefix}{num:04d}",
                names[num % len(names)].format(num),
                typ,
                round(float(rng.uniform(lo, hi)), 2),
            )
        )
    df = pd.DataFrame(rows, columns=["渠道码", "渠道名称", "渠道类型", "成本"])
    created = rng.integers(-180 * DAY, int(window.seconds * 0.3), n)
    df["创建时间"] = window.local_text(created)

    n_camp = len(CHANNEL_CAMPAIGNS)
    year = window.start.year + rng.integers(0, 2, n_camp)
    names = np.array([f"{y}{c}" for y, c in zip(year, CHANNEL_CAMPAIGNS, strict=True)])
    campaign = names[rng.integers(0, n_camp, n)]
    df["活动"] = np.where(rng.random(n) < NO_CAMPAIGN_SHARE, "", campaign)
    live = df["渠道类型"].to_numpy() == "活码"
    userid = staff["userid"].to_numpy(dtype=object)
    df["导购"] = np.where(live, userid[rng.integers(0, len(userid), n)], "")
    cost = (df["成本"].to_numpy() * 100).round().astype("int64")
    df["成本"] = np.where(rng.random(n) < NO_COST_SHARE, "", money(cost).to_numpy())
    mult = np.exp(rng.normal(-(VALUE_SIGMA**2) / 2, VALUE_SIGMA, n))  # mean 1: volumes stay
    df["multiplier"] = np.clip(mult, *VALUE_BOUNDS).round(4)
    return df[[*CHANNEL_COLUMNS, "multiplier"]]


def backdate_channels(channels: pd.DataFrame, persons: pd.DataFrame, window: Window) -> None:
    """Move each code's 创建时间 before the first person it acquired (a day earlier)."""
    code = persons["channel_code"].to_numpy(dtype=object)
    used = code != ""
    first = pd.Series(persons["t0"].to_numpy()[used]).groupby(code[used]).min()
    created = pd.to_datetime(channels["创建时间"]).to_numpy()
    start = np.datetime64(window.start.to_datetime64(), "s")
    t = (created - start).astype("timedelta64[s]").astype("int64")
    limit = first.reindex(channels["渠道码"]).to_numpy(dtype="float64") - DAY
    t = np.where(np.isnan(limit), t, np.minimum(t, np.nan_to_num(limit)).astype("int64"))
    channels["创建时间"] = window.local_text(t)


def _campaign_times(window: Window) -> list[tuple[str, int]]:
    out = []
    for year in range(window.start.year, window.end.year + 1):
        for name, md in vocab.CAMPAIGNS:
            day = pd.Timestamp(f"{year}-{md}")
            if window.start <= day <= window.end:
                out.append((f"{year}{name}", window.offset(day) + 10 * 3600))
    return out


def _targets(accounts: pd.DataFrame, test_phone: str) -> pd.DataFrame:
    """Who the marketing tool can address, by user type, and since when (``created``).

    A brand reaches an account only once it exists: a WeCom contact after the add,
    an openid after the subscription, a Youzan phone after the first order there.
    """
    plat = accounts["platform"].to_numpy()
    idx = accounts["person_idx"].to_numpy()
    created = accounts["created"].to_numpy()
    native = accounts["native_id"].to_numpy()
    y = plat == "youzan"
    phone = np.where(accounts["test_phone"].to_numpy(), test_phone, accounts["phone"].to_numpy())
    rows = [
        pd.DataFrame({"kind": kind, "uid": uid[m], "person_idx": idx[m], "created": created[m]})
        for kind, uid, m in (
            ("openid", native, plat == "wechat"),
            ("external_userid", native, plat == "wecom"),
            ("phone", phone, y),
        )
    ]
    return pd.concat(rows, ignore_index=True)


CHANNEL_FOR = {
    "openid": ["miniapp_push", "official_account"],
    "external_userid": ["wecom_1v1", "wecom_group"],
    "phone": ["sms"],
}
OPEN_RATE = {
    "miniapp_push": 0.18,
    "official_account": 0.12,
    "wecom_1v1": 0.45,
    "wecom_group": 0.25,
    "sms": 0.08,
}


def _pick_channel(rng: np.random.Generator, kinds: np.ndarray) -> np.ndarray:
    ch = np.empty(len(kinds), dtype=object)
    for k, opts in CHANNEL_FOR.items():
        sel = kinds == k
        ch[sel] = np.array(opts, dtype=object)[rng.integers(0, len(opts), int(sel.sum()))]
    return ch


def make_consent(rng: np.random.Generator, accounts: pd.DataFrame, window: Window) -> pd.DataFrame:
    t = _targets(accounts, vocab.TEST_PHONE)
    t = t.sort_values("created", kind="stable").drop_duplicates(["kind", "uid"])
    has = rng.random(len(t)) < 0.15
    t = t[has & (t["created"].to_numpy() < window.seconds)].reset_index(drop=True)
    channel = _pick_channel(rng, t["kind"].to_numpy())
    grant = rng.random(len(t)) < 0.4
    # a consent choice is made on an account that exists
    start = np.clip(t["created"].to_numpy(), 0, window.seconds - 1)
    when = start + (rng.random(len(t)) * (window.seconds - start)).astype("int64")
    df = pd.DataFrame(
        {
            "用户类型": t["kind"],
            "用户标识": t["uid"],
            "渠道": channel,
            "是否同意": np.where(grant, "是", "否"),
            "t": when,
        }
    )
    # Some who opted out change their mind later: a second, later row.
    back = (~grant) & (rng.random(len(t)) < 0.15)
    again = df[back].copy()
    again["是否同意"] = "是"
    again["t"] = np.minimum(
        again["t"] + rng.integers(DAY, 120 * DAY, len(again)), window.seconds - 1
    )
    df = pd.concat([df, again], ignore_index=True).sort_values("t", kind="stable")
    df["时间"] = window.local_text(df["t"].to_numpy())
    return df.drop(columns="t").reset_index(drop=True)


def make_touches(
    rng: np.random.Generator, accounts: pd.DataFrame, assignments: pd.DataFrame, window: Window
) -> pd.DataFrame:
    """The send log: campaign blasts plus the birthday-experiment messages."""
    targets = _targets(accounts, vocab.TEST_PHONE)
    targets = targets.sort_values("created", kind="stable").drop_duplicates(["kind", "uid"])
    parts = []
    for name, t in _campaign_times(window):
        # a blast reaches accounts that exist when it is sent
        pick = targets[(rng.random(len(targets)) < 0.3) & (targets["created"].to_numpy() <= t)]
        kinds = pick["kind"].to_numpy()
        ch = _pick_channel(rng, kinds)
        parts.append(
            pd.DataFrame(
                {
                    "活动": name,
                    "渠道": ch,
                    "用户类型": kinds,
                    "用户标识": pick["uid"].to_numpy(),
                    "t": t + rng.integers(0, 6 * 3600, len(pick)),
                }
            )
        )
    b = assignments[assignments["unit_type"] == "account"]
    if len(b):
        plat, native = (
            b["unit_id"].str.split(":", n=1).str[0],
            b["unit_id"].str.split(":", n=1).str[1],
        )
        parts.append(
            pd.DataFrame(
                {
                    "活动": "生日关怀-" + b["variant"].astype(str),
                    "渠道": np.where(plat == "wecom", "wecom_1v1", "miniapp_push"),
                    "用户类型": np.where(plat == "wecom", "external_userid", "openid"),
                    "用户标识": native.to_numpy(),
                    "t": b["t"].to_numpy(),
                }
            )
        )
    df = pd.concat(parts, ignore_index=True)
    rate = df["渠道"].map(OPEN_RATE).to_numpy(dtype=float)
    opened = rng.random(len(df)) < rate
    clicked = opened & (rng.random(len(df)) < 0.22)
    df["发送时间"] = window.local_text(df["t"].to_numpy())
    df["是否打开"] = np.where(opened, "是", "否")
    df["是否点击"] = np.where(clicked, "是", "否")
    return df[["活动", "渠道", "用户类型", "用户标识", "发送时间", "是否打开", "是否点击"]]
