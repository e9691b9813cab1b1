"""``scrm channels``: acquisition channels, their value, the staff view and the journey funnel.

Example
-------
.. code-block:: bash

    scrm channels value --level channel_code --min-cohort 50
    scrm channels staff --json
    scrm channels funnel --mode any --since 2026-01-01
    scrm channels attribution P0A1B2C3D4E5 --rule last_touch
    scrm channels unknown-codes
"""

from __future__ import annotations

from typing import Annotated

import typer

from scrm_lib.cli_common import JsonOpt, WarehouseOpt, emit_json, out, records, show, sub_app

app = sub_app("Channels: acquisition, value per 活码 / campaign / staff, the journey funnel.")

RuleOpt = Annotated[
    str | None,
    typer.Option("--rule", help="Attribution: first_touch or last_touch (before the first order)."),
]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Persons acquired on or after YYYY-MM-DD.")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Persons acquired on or before YYYY-MM-DD.")
]

_VALUE_COLS = ["level", "key", "channel_type", "channel_name", "persons", "conversion",
               "conversion_lo", "conversion_hi", "gmv90_n", "gmv90_per_person", "gmv90_lo",
               "gmv90_hi", "repeat_rate", "clv_mean", "cost", "cac", "roi_gmv", "roi_clv",
               "rank"]  # fmt: skip


@app.command("value")
def value_cmd(
    level: Annotated[
        str | None,
        typer.Option(help="channel_type, campaign, channel_code or staff (default: all)."),
    ] = None,
    cohorts: Annotated[bool, typer.Option(help="Also per monthly acquisition cohort.")] = False,
    min_cohort: Annotated[
        int | None, typer.Option(help="Groups smaller than this are not ranked.")
    ] = None,
    rule: RuleOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    top: Annotated[int, typer.Option(help="Rows to print per level.")] = 15,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per channel: persons, conversion, GMV per person at 30/90/365 days, CLV, cost, CAC, ROI."""
    from scrm_lib.social.channels.analysis import channel_value

    df = channel_value(warehouse, level=level, cohorts=cohorts, rule=rule, min_cohort=min_cohort,
                       since=since, until=until)  # fmt: skip
    if as_json:
        emit_json({"rows": records(df)})
        return
    fmt = {"conversion": ".1%", "conversion_lo": ".1%", "conversion_hi": ".1%",
           "repeat_rate": ".1%", "gmv90_per_person": ",.1f", "gmv90_lo": ",.1f",
           "gmv90_hi": ",.1f", "clv_mean": ",.0f", "cost": ",.0f", "cac": ",.0f",
           "roi_gmv": ".2f", "roi_clv": ".2f"}  # fmt: skip
    for lv, part in df.groupby("level", sort=False):
        show(part[[c for c in _VALUE_COLS if c in part]].head(top), f"channel value: {lv}", fmt)


@app.command("staff")
def staff_cmd(
    rule: RuleOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per staff member (导购): contacts, deletions, handovers, first orders, GMV, response time."""
    from scrm_lib.access.privacy import mask_frame
    from scrm_lib.social.channels.analysis import staff_view

    df = mask_frame(staff_view(warehouse, rule=rule, since=since, until=until),
                    table="channel_staff")  # fmt: skip
    if as_json:
        emit_json({"staff": records(df)})
        return
    show(df, "staff", {"contacts_gmv": ",.0f", "lost_gmv": ",.0f",
                       "median_response_minutes": ".1f"})  # fmt: skip


@app.command("funnel")
def funnel_cmd(
    mode: Annotated[
        str | None, typer.Option(help="strict (each step after the last) or any order.")
    ] = None,
    group: Annotated[str | None, typer.Option(help="One channel type (default: everyone).")] = None,
    min_cohort: Annotated[
        int | None, typer.Option(help="The worst step only among steps this many persons came to.")
    ] = None,
    rule: RuleOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The journey funnel: persons per step, conversion from the step before, the worst step."""
    from scrm_lib.social.channels.analysis import journey_funnel

    df = journey_funnel(warehouse, mode=mode, rule=rule, min_cohort=min_cohort, since=since,
                        until=until)  # fmt: skip
    if as_json:
        emit_json({"steps": records(df if group is None else df[df["group"] == group])})
        return
    part = df[df["group"] == (group or "all")]
    if part.empty:
        known = ", ".join(sorted(set(df["group"])))
        raise typer.BadParameter(f"no channel type {group!r}; known: {known}")
    part = part.assign(worst=part["worst"].map({True: "◀ worst", False: ""}))
    cols = ["step_no", "step", "persons", "from_previous", "from_previous_lo",
            "from_previous_hi", "from_start", "median_hours_from_previous", "worst"]  # fmt: skip
    title = f"journey funnel ({part['mode'].iloc[0]} order): {group or 'everyone'}"
    show(part[cols], title, {"from_previous": ".1%", "from_previous_lo": ".1%",
                             "from_previous_hi": ".1%", "from_start": ".1%",
                             "median_hours_from_previous": ".1f"})  # fmt: skip


@app.command("attribution")
def attribution_cmd(
    person_id: Annotated[str, typer.Argument(help="A person id (see `scrm identity`).")],
    rule: RuleOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One person's acquisition channel and every touch it was chosen from."""
    import pandas as pd

    from scrm_lib.access.privacy import mask_frame
    from scrm_lib.social.channels.analysis import attribution

    data = attribution(person_id, warehouse, rule=rule)
    acq = mask_frame(pd.DataFrame([data["acquisition"]]), table="channel_acquisition")
    touches = mask_frame(pd.DataFrame(data["touches"]), table="channel_acquisition")
    data["acquisition"] = records(acq)[0]
    data["touches"] = records(touches)
    if as_json:
        emit_json(data)
        return
    a = data["acquisition"]
    parts = [f"{person_id}: {a['channel_type']} ({data['rule']})"]
    for key, word in (("channel_code", "code"), ("campaign", "campaign"), ("staff_id", "staff")):
        if a.get(key):
            parts.append(f"{word} {a[key]}")
    if a.get("touch_at"):
        parts.append(f"at {a['touch_at']} on {a['touch_platform']}")
    out.print(", ".join(parts))
    if len(touches):
        cols = ["touch_at", "touch", "platform", "channel_type", "channel_code", "campaign",
                "staff_id", "evidence"]  # fmt: skip
        show(touches[[c for c in cols if c in touches]], "touches", {})


@app.command("unknown-codes")
def unknown_codes_cmd(warehouse: WarehouseOpt = None, as_json: JsonOpt = False) -> None:
    """Channel codes on scans and adds that the channels table does not list."""
    from scrm_lib.social.channels.analysis import unknown_codes

    df = unknown_codes(warehouse)
    if as_json:
        emit_json({"unknown_codes": records(df)})
        return
    if df.empty:
        out.print("every channel code on scans and adds is in the channels table")
        return
    show(df, "channel codes missing from the channels table (counted as unknown_code)", {})
