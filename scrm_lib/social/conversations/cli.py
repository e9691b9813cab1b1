"""``scrm messages``: tag messages, and read intents, sentiment and service KPIs.

Example
-------
.. code-block:: bash

    scrm messages tag --text "蹲链接，多少钱？"
    scrm messages tag chats.csv --out tagged.csv
    scrm messages intents --freq month --json
    scrm messages sentiment
    scrm messages service                # with CSAT and NPS per week when surveys exist
    scrm messages high-intent --limit 20
    scrm messages evaluate
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scrm_lib.cli_common import JsonOpt, WarehouseOpt, emit_json, out, records, show, sub_app

app = sub_app("Conversations: intent and sentiment of messages, service KPIs.")

_TAG_COLS = ["text", "intent", "sentiment", "layer", "phrase", "confidence", "reason"]


@app.command("tag")
def tag_cmd(
    path: Annotated[
        Path | None,
        typer.Argument(help="A CSV/XLSX with a text column (optional speaker, channel)."),
    ] = None,
    text: Annotated[str | None, typer.Option("--text", help="Tag this one message.")] = None,
    speaker: Annotated[str, typer.Option(help="customer or staff (with --text).")] = "customer",
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the rows as CSV.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Intent, sentiment, layer and matched phrase of each message, in input order."""
    from scrm_lib.access.privacy import export_frame, mask_frame
    from scrm_lib.social.conversations.analysis import tag_file, tag_messages

    if (path is None) == (text is None):
        raise typer.BadParameter("give a file or --text, one of them")
    df = tag_messages([text], [speaker]) if text is not None else tag_file(path)
    if out_path is not None:
        # phones and e-mails inside the texts are masked, as in every export
        export_frame(df, table="messages").to_csv(out_path, index=False, encoding="utf-8-sig")
        out.print(f"{len(df):,} messages tagged → {out_path}")
        return
    shown = mask_frame(df, table="messages")
    if as_json:
        emit_json({"messages": records(shown)})
        return
    show(shown[[c for c in _TAG_COLS if c in shown]], "messages", {"confidence": ".2f"})


@app.command("intents")
def intents_cmd(
    freq: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    channel: Annotated[str | None, typer.Option(help="One channel (wecom_group, …).")] = None,
    since: Annotated[str | None, typer.Option(help="From YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="To YYYY-MM-DD (inclusive).")] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Customer messages per period and intent, with each intent's share."""
    from scrm_lib.social.conversations.analysis import message_intents

    df = message_intents(warehouse, freq=freq, channel=channel, since=since, until=until)
    if as_json:
        emit_json({"intents": records(df)})
        return
    wide = df.pivot_table(index="period", columns="intent", values="messages", fill_value=0)
    show(wide.reset_index().tail(12), f"messages per {freq} and intent", {})


@app.command("sentiment")
def sentiment_cmd(warehouse: WarehouseOpt = None, as_json: JsonOpt = False) -> None:
    """Negative share of customer messages per day, and the days it jumped (alerts)."""
    from scrm_lib.social.conversations.analysis import sentiment_trend

    df = sentiment_trend(warehouse)
    if as_json:
        emit_json({"days": records(df)})
        return
    alerts = df[df["alert"]]
    show(df.tail(14), "negative share per day", {"share": ".1%", "baseline": ".1%", "z": ".1f"})
    days = ", ".join(str(d) for d in alerts["day"].tail(10))
    out.print(f"{len(alerts)} alert day(s)" + (f": {days}" if days else ""))


@app.command("service")
def service_cmd(warehouse: WarehouseOpt = None, as_json: JsonOpt = False) -> None:
    """Per staff member and week: answered share, first response and resolution minutes.

    With survey answers in the warehouse, CSAT and NPS per week too.
    """
    from scrm_lib.social.conversations.analysis import service_view, survey_view

    df = service_view(warehouse)
    surveys = survey_view(warehouse)
    if as_json:
        emit_json({"service": records(df), "surveys": records(surveys)})
        return
    cols = ["week", "staff_id", "conversations", "answered_share", "median_first_response_min",
            "within_share", "within_lo", "within_hi", "median_resolution_min"]  # fmt: skip
    show(df[cols].tail(20), "service KPIs", {"answered_share": ".0%", "within_share": ".0%",
         "within_lo": ".0%", "within_hi": ".0%", "median_first_response_min": ".1f",
         "median_resolution_min": ".1f"})  # fmt: skip
    if len(surveys):
        cols = ["week", "csat_responses", "csat_mean", "csat_satisfied_share", "nps_responses",
                "nps"]  # fmt: skip
        show(surveys[cols].tail(12), "CSAT and NPS per week",
             {"csat_mean": ".2f", "csat_satisfied_share": ".0%", "nps": ".0f"})  # fmt: skip


@app.command("high-intent")
def high_intent_cmd(
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 20,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Persons who asked to buy lately (高意向), newest first, with the message (masked)."""
    from scrm_lib.access.privacy import mask_frame
    from scrm_lib.social.conversations.analysis import high_intent_persons

    df = mask_frame(high_intent_persons(warehouse, limit=limit), table="messages")
    if as_json:
        emit_json({"persons": records(df)})
        return
    show(df, "high intent (高意向)", {})


@app.command("evaluate")
def evaluate_cmd(as_json: JsonOpt = False) -> None:
    """Score the tagger on the hand-labelled chat set, beside snownlp."""
    from scrm_lib.social.conversations.analysis import evaluate_tagger

    r = evaluate_tagger()
    if as_json:
        emit_json(r)
        return
    pi = r["purchase_intent"]
    out.print(
        f"{r['customer_messages']} customer messages: macro-F1 {r['macro_f1']:.3f}, "
        f"purchase intent precision {pi['precision']:.3f} recall {pi['recall']:.3f}; "
        f"sentiment accuracy {r['sentiment_accuracy']:.3f} "
        f"(snownlp {r['snownlp_sentiment_accuracy']:.3f})"
    )
