"""``scrm referrals``: the fission graph, campaigns, abuse flags and the KOC pool.

Example
-------
.. code-block:: bash

    scrm referrals summary
    scrm referrals person P0A1B2C3D4E5 --depth 2
    scrm referrals campaigns --level channel_type
    scrm referrals abuse --flag shared_device --json
    scrm referrals koc --tier 核心KOC --top 20
"""

from __future__ import annotations

from typing import Annotated

import typer

from scrm_lib.cli_common import JsonOpt, WarehouseOpt, emit_json, out, records, show, sub_app

app = sub_app("Referrals: the fission graph, campaigns, abuse flags and the KOC pool.")

TopOpt = Annotated[int, typer.Option(help="Rows to print.")]

_PERSON_COLS = ["invited_by", "invited_at", "generation", "direct_invitees",
                "converted_invitees", "invite_conversion", "downstream_persons",
                "downstream_gmv", "group_leader_gmv", "distributor_gmv", "self_referrals",
                "in_ring", "rewards"]  # fmt: skip
_CAMPAIGN_COLS = ["level", "key", "seeds", "participants", "invitees", "converted", "k_factor",
                  "generations", "rewards", "reward_cost", "acquired", "cost_per_acquired",
                  "retention_30", "retention_90", "gmv90_per_person"]  # fmt: skip
_KOC_COLS = ["koc_rank", "person_id", "koc_score", "koc_tier", "downstream_gmv",
             "invite_conversion", "engagement", "sentiment", "explanation"]  # fmt: skip


@app.command("summary")
def summary_cmd(warehouse: WarehouseOpt = None, as_json: JsonOpt = False) -> None:
    """Links, persons, conversion, campaigns, abuse flags per kind and the KOC pool."""
    from scrm_lib.social.referrals.analysis import referral_summary

    data = referral_summary(warehouse)
    if as_json:
        emit_json(data)
        return
    if data.get("note"):
        out.print(data["note"])
    for key in ("links", "persons", "inviters", "invited", "converted", "campaigns",
                "max_generation", "self_referrals", "in_ring", "rewards"):  # fmt: skip
        if key in data:
            out.print(f"{key}: {data[key]}")
    out.print(f"input: {data.get('input') or {}}")
    out.print(f"abuse: {data.get('abuse') or {}}")
    out.print(f"KOC: {data.get('koc') or {}}  weights {data.get('koc_weights')}")


@app.command("person")
def person_cmd(
    person_id: Annotated[str, typer.Argument(help="A person id (see `scrm identity`).")],
    depth: Annotated[int, typer.Option(help="Links above and below to list.")] = 1,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One person: invites, downstream, rewards, KOC score, flags and the chain around them."""
    import pandas as pd

    from scrm_lib.access.privacy import mask_frame
    from scrm_lib.social.referrals.analysis import referral_chain, referral_person

    data = referral_person(person_id, warehouse)
    data["chain"] = referral_chain(person_id, depth, warehouse)
    data["abuse"] = records(mask_frame(pd.DataFrame(data["abuse"]), table="referral_abuse"))
    if as_json:
        emit_json(data)
        return
    p = data["person"]
    show(pd.DataFrame([{c: p.get(c) for c in _PERSON_COLS}]), person_id,
         {"invite_conversion": ".1%", "downstream_gmv": ",.0f", "group_leader_gmv": ",.0f",
          "distributor_gmv": ",.0f"})  # fmt: skip
    if data["koc"]:
        k = data["koc"]
        out.print(f"KOC {k['koc_score']:.2f} {k.get('koc_tier') or ''} — {k['explanation']}")
    if data["rewards"]:
        show(pd.DataFrame(data["rewards"]), "rewards", {"cost": ",.0f"})
    if data["abuse"]:
        show(pd.DataFrame(data["abuse"])[["flag", "person_id", "persons", "evidence"]],
             "abuse flags", {})  # fmt: skip
    nodes = pd.DataFrame(data["chain"]["nodes"])
    show(nodes, f"chain (±{depth} links)", {"downstream_gmv": ",.0f"})


@app.command("campaigns")
def campaigns_cmd(
    level: Annotated[
        str | None, typer.Option(help="campaign (default), channel_type, or all for both.")
    ] = "campaign",
    top: TopOpt = 20,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per fission campaign: seeds, K-factor, generations, reward cost, retention and GMV."""
    from scrm_lib.social.referrals.analysis import referral_campaigns

    df = referral_campaigns(warehouse, level=None if level == "all" else level)
    if as_json:
        emit_json({"campaigns": records(df)})
        return
    fmt = {"k_factor": ".2f", "reward_cost": ",.0f", "cost_per_acquired": ",.1f",
           "retention_30": ".1%", "retention_90": ".1%", "gmv90_per_person": ",.1f"}  # fmt: skip
    for lv, part in df.groupby("level", sort=False):
        show(part[[c for c in _CAMPAIGN_COLS if c in part]].head(top), f"referrals: {lv}", fmt)


@app.command("abuse")
def abuse_cmd(
    flag: Annotated[
        str | None,
        typer.Option(
            help="self_referral, ring, never_buy, shared_device, shared_address, "
            "shared_phone or burst (default: all)."
        ),
    ] = None,
    top: TopOpt = 50,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Abuse flags with their evidence; shared phones and addresses masked."""
    from scrm_lib.access.privacy import mask_frame
    from scrm_lib.social.referrals.analysis import referral_abuse

    df = mask_frame(referral_abuse(warehouse, flag=flag), table="referral_abuse")
    if as_json:
        emit_json({"abuse": records(df)})
        return
    if df.empty:
        out.print("no abuse flags")
        return
    cols = ["flag", "person_id", "persons", "campaign", "kind", "value", "evidence", "last_at"]
    show(df[cols].head(top), "referral abuse", {})


@app.command("koc")
def koc_cmd(
    tier: Annotated[str | None, typer.Option(help="核心KOC or 潜力KOC (default: all).")] = None,
    top: TopOpt = 20,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The KOC score, its parts and tier; each person explained by what added the most."""
    from scrm_lib.social.referrals.analysis import koc_scores

    df = koc_scores(warehouse, tier=tier)
    if as_json:
        emit_json({"koc": records(df)})
        return
    fmt = {"koc_score": ".3f", "downstream_gmv": ",.0f", "invite_conversion": ".1%",
           "sentiment": ".2f"}  # fmt: skip
    show(df[_KOC_COLS].head(top), "KOC", fmt)
