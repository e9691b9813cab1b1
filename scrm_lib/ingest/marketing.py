"""Marketing and configuration tables: channels, touches (send log), consent, assignments.

A channel row is one acquisition code (渠道码 / 活码 ``state``) with its
campaign, the staff member a 活码 belongs to, and its cost. A blank cost
stays NULL (its ROI is unknown, not infinite); a negative cost is rejected.

Touches and consent name a user by type and id. ``openid`` becomes
``wechat:<openid>``, ``external_userid`` becomes ``wecom:<id>``. A
``phone`` is not an account on any platform, so it becomes the pseudo
account ``phone:<E.164>`` carrying a ``phone`` identifier; identity
stitching links it to the accounts sharing that phone. A phone that does
not normalize (or is masked) cannot key the row, which is rejected.
``touch_id`` hashes account, time, channel and campaign.

Example
-------
>>> from scrm_lib.ingest import parse_file
>>> parse_file("touches.csv").tables["touches"]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from scrm_lib.ingest import normalize as nz
from scrm_lib.ingest.base import ROW, Context, accounts_frame, identifiers_frame
from scrm_lib.ingest.keys import content_hash, utc_micros

USER_TYPES = {
    "openid": "wechat",
    "wechat": "wechat",
    "external_userid": "wecom",
    "wecom": "wecom",
    "phone": "phone",
    "mobile": "phone",
    "手机号": "phone",
}


def parse(ctx: Context) -> dict[str, Any]:
    """Dispatch on the preset's ``kind``."""
    kinds = {
        "channels": _channels,
        "touches": _touches,
        "consent": _consent,
        "assignments": _assignments,
    }
    return kinds[ctx.preset.kind](ctx)


def _channels(ctx: Context) -> dict[str, Any]:
    cost = ctx.amounts("cost")
    # A blank cost stays unknown (ROI undefined); a negative one is a typing error.
    ctx.reject(cost < 0, "cost", "negative cost")
    channels = pd.DataFrame(
        {
            ROW: ctx.rows,
            "channel_id": ctx.ids("channel_id", required=True),
            "name": ctx.texts("name", required=True),
            "type": ctx.texts("type"),
            "campaign": ctx.texts("campaign"),
            "staff_id": ctx.ids("staff_id"),
            "cost": cost,
            "created_at": ctx.timestamps("created_at"),
        }
    )
    return {"channels": channels}


def resolve_users(ctx: Context) -> tuple[pd.Series, list[pd.DataFrame]]:
    """Account ids from 用户类型 + 用户标识, plus account and identifier hint rows."""
    rows = ctx.rows
    utype = nz.halfwidth(ctx.get("user_type")).str.lower()
    ctx.reject(utype.isna(), "user_type", "missing value")
    platform = utype.map(USER_TYPES).astype("str")
    ctx.reject(utype.notna() & platform.isna(), "user_type", "unknown user type")
    uid = ctx.ids("user_id", required=True)
    is_phone = platform == "phone"
    phones = nz.normalize_phones(uid.where(is_phone), ctx.region)
    good_phone = phones["kind"] == "phone"
    ctx.reject(is_phone & uid.notna() & ~good_phone, "user_id", "invalid phone number")
    native = uid.mask(is_phone, phones["value"].where(good_phone))
    account = (platform + ":" + native).where(native.notna() & platform.notna())
    hints = [
        accounts_frame(rows, account, platform, native),
        identifiers_frame(rows[good_phone], account[good_phone], "phone", native[good_phone]),
    ]
    return account, hints


def _touches(ctx: Context) -> dict[str, Any]:
    account, hints = resolve_users(ctx)
    ts = ctx.timestamps("ts", required=True)
    channel = ctx.ids("channel", required=True)
    campaign = ctx.texts("campaign")
    touches = pd.DataFrame(
        {
            ROW: ctx.rows,
            "touch_id": content_hash(account, utc_micros(ts), channel, campaign),
            "account_id": account,
            "ts": ts,
            "channel": channel,
            "campaign": campaign,
            "opened": ctx.bools("opened"),
            "clicked": ctx.bools("clicked"),
        }
    )
    return {"touches": touches, "accounts": hints[0], "identifiers": hints[1]}


def _consent(ctx: Context) -> dict[str, Any]:
    account, hints = resolve_users(ctx)
    consent = pd.DataFrame(
        {
            ROW: ctx.rows,
            "account_id": account,
            "channel": ctx.ids("channel", required=True),
            "granted": ctx.bools("granted", required=True),
            "ts": ctx.timestamps("ts", required=True),
        }
    )
    return {"consent": consent, "accounts": hints[0], "identifiers": hints[1]}


def _assignments(ctx: Context) -> dict[str, Any]:
    unit_type = nz.halfwidth(ctx.get("unit_type")).str.lower().fillna("account")
    ctx.reject(~unit_type.isin(["account", "group"]), "unit_type", "not account or group")
    assignments = pd.DataFrame(
        {
            ROW: ctx.rows,
            "experiment": ctx.ids("experiment", required=True),
            "unit_type": unit_type,
            "unit_id": ctx.ids("unit_id", required=True),
            "variant": ctx.ids("variant", required=True),
            "ts": ctx.timestamps("ts", required=True),
        }
    )
    return {"assignments": assignments}
