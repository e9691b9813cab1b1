"""The conversations questions, answered: the public functions of the capability.

Each takes a ``warehouse`` (a path, an open connection, or None for the
configured one) and reads the marts the build wrote (``message_tags``,
``person_conversations``, ``service_kpis``; :func:`survey_view` the canonical
``surveys``), except :func:`tag_messages` and
:func:`tag_file`, which tag text given to them.

Example
-------
>>> from scrm_lib.social.conversations.analysis import tag_messages, message_intents
>>> tag_messages(["蹲链接", "不是不喜欢，就是太贵了"])[["intent", "sentiment"]]  # doctest: +SKIP
>>> message_intents(freq="week").tail()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from scrm_lib.config import Settings, load_settings
from scrm_lib.engine import Warehouse, using
from scrm_lib.errors import ConfigError

#: Columns a file to tag may name its text, speaker and channel with.
TEXT_COLUMNS = ("text", "content", "message", "消息内容", "内容", "评论内容", "文本")
SPEAKER_COLUMNS = ("speaker", "direction", "role", "发送方", "角色")
CHANNEL_COLUMNS = ("channel", "渠道", "来源")
FREQS = {"day": "D", "week": "W", "month": "M"}  # pandas periods (a week ends on Sunday)


def tag_messages(
    texts: Sequence[Any], speakers: Sequence[Any] | None = None, *,
    settings: Settings | None = None,
) -> pd.DataFrame:  # fmt: skip
    """Intent, sentiment, layer and matched phrase of each text, in input order.

    ``speakers``: ``customer`` (default) or ``staff`` per text (``out`` counts as staff).

    Examples
    --------
    >>> tag_messages(["蹲链接", "[图片]"])[["intent", "layer", "phrase"]]  # doctest: +SKIP
    """
    from scrm_lib.social.conversations.tagger import Tagger

    return Tagger.load(settings).tag(texts, speakers)


def _pick(columns: list[str], names: Sequence[str]) -> str | None:
    lower = {c.strip().lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def read_messages_file(path: str | Path) -> pd.DataFrame:
    """A CSV or XLSX of messages: its rows with ``text`` (and ``speaker``, ``channel`` if given).

    Raises :class:`ConfigError` naming the file when it cannot be read or has no text column.
    """
    p = Path(path)
    try:
        if p.suffix.lower() in (".xlsx", ".xls"):
            df = pd.read_excel(p, dtype=str, keep_default_na=False)
        else:
            df = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as exc:
        raise ConfigError(f"{p}: cannot read it as a CSV/XLSX table ({exc})") from None
    text = _pick(list(df.columns), TEXT_COLUMNS)
    if text is None:
        raise ConfigError(
            f"{p}: no text column (one of {', '.join(TEXT_COLUMNS)}); columns: {list(df.columns)}"
        )
    out = pd.DataFrame({"text": df[text]})
    speaker = _pick(list(df.columns), SPEAKER_COLUMNS)
    channel = _pick(list(df.columns), CHANNEL_COLUMNS)
    out["speaker"] = df[speaker] if speaker else "customer"
    if channel:
        out["channel"] = df[channel]
    return out


def tag_file(path: str | Path, *, settings: Settings | None = None) -> pd.DataFrame:
    """Every row of a messages file tagged, in file order (see :func:`read_messages_file`)."""
    rows = read_messages_file(path)
    tagged = tag_messages(rows["text"].tolist(), rows["speaker"].tolist(), settings=settings)
    extra = rows.drop(columns=["text"])
    return pd.concat([tagged, extra.reset_index(drop=True)], axis=1)


def _tags(con: Any) -> Any:
    if "message_tags" not in con.list_tables():
        raise ConfigError("the warehouse has no message_tags mart; run `scrm build`")
    return con.table("message_tags")


def _period(t: Any, since: Any, until: Any) -> Any:
    """Messages of local days ``since`` to ``until`` (inclusive), in the project's time zone."""
    tz = load_settings().timezone
    if since is not None:
        t = t.filter(t.ts >= pd.Timestamp(since).tz_localize(tz).tz_convert("UTC"))
    if until is not None:
        end = pd.Timestamp(until).tz_localize(tz) + pd.Timedelta(days=1)
        t = t.filter(t.ts < end.tz_convert("UTC"))
    return t


def message_intents(
    warehouse: Warehouse = None, *, freq: str = "week", channel: str | None = None,
    since: Any = None, until: Any = None,
) -> pd.DataFrame:  # fmt: skip
    """Customer messages per period and intent: ``period, intent, messages, share``.

    Examples
    --------
    >>> message_intents(freq="month", channel="wecom_group")  # doctest: +SKIP
    """
    if freq not in FREQS:
        raise ConfigError(f"freq {freq!r}: one of {', '.join(FREQS)}")
    with using(warehouse) as con:
        t = _tags(con)
        t = _period(t.filter(t.direction != "out"), since, until)
        if channel is not None:
            t = t.filter(t.channel == channel)
        df = t.select("ts", "intent").execute()
    if df.empty:
        return pd.DataFrame(columns=["period", "intent", "messages", "share"])
    local = df["ts"].dt.tz_convert(load_settings().timezone).dt.tz_localize(None)
    df["period"] = local.dt.to_period(FREQS[freq]).dt.start_time
    g = df.groupby(["period", "intent"]).size().rename("messages").reset_index()
    g["share"] = g["messages"] / g.groupby("period")["messages"].transform("sum")
    return g


def sentiment_trend(
    warehouse: Warehouse = None, *, settings: Settings | None = None
) -> pd.DataFrame:  # fmt: skip
    """Customer messages per local day with the negative share and its jump alert.

    Columns ``day, messages, negative, share, baseline, z, alert``
    (:func:`.service.negative_share_alert` with the ``[conversations]`` rule).
    """
    from scrm_lib.social.conversations import service
    from scrm_lib.social.conversations.config import conversations_config
    from scrm_lib.social.conversations.step import daily_sentiment

    cfg = conversations_config(settings)
    with using(warehouse) as con:
        daily = daily_sentiment(_tags(con), service.utc_offset_s(cfg))
    return service.negative_share_alert(daily, cfg)


def high_intent_persons(warehouse: Warehouse = None, *, limit: int | None = None) -> pd.DataFrame:
    """Persons with a purchase-intent (高意向) message lately, newest first, with that message.

    Columns: ``person_id, purchase_intent_7d, last_message_at, message_id, ts, channel,
    staff_id, phrase, text`` (the text is personal: surfaces mask it).
    """
    with using(warehouse) as con:
        if "person_conversations" not in con.list_tables():
            raise ConfigError("the warehouse has no person_conversations mart; run `scrm build`")
        p = con.table("person_conversations")
        p = p.filter(p.purchase_intent_7d > 0)
        t = _tags(con)
        t = t.filter((t.intent == "purchase_intent") & (t.direction != "out"))
        last = t.group_by("person_id").aggregate(message_id=t.message_id.argmax(t.ts))
        j = p.select("person_id", "purchase_intent_7d", "last_message_at").inner_join(
            last, "person_id"
        )
        j = j.inner_join(t.select("message_id", "ts", "channel", "staff_id", "phrase"),
                         "message_id")  # fmt: skip
        if "messages" in con.list_tables():
            m = con.table("messages").select("message_id", "text")
            j = j.left_join(m, "message_id").drop("message_id_right")
        j = j.order_by([j.ts.desc(), j.person_id])
        if limit is not None:
            j = j.limit(int(limit))
        return j.execute()


def service_view(warehouse: Warehouse = None) -> pd.DataFrame:
    """Service KPIs per staff member and week (the ``service_kpis`` mart)."""
    with using(warehouse) as con:
        if "service_kpis" not in con.list_tables():
            raise ConfigError("the warehouse has no service_kpis mart; run `scrm build`")
        return con.table("service_kpis").order_by(["week", "staff_id"]).execute()


def survey_view(
    warehouse: Warehouse = None, *, settings: Settings | None = None
) -> pd.DataFrame:  # fmt: skip
    """CSAT and NPS per local week from the ``surveys`` table (empty when nobody answered).

    Columns as :func:`.service.survey_scores`: ``week``, response counts, ``csat_mean``,
    ``csat_satisfied_share`` (4 and 5) and ``nps`` (promoters less detractors, in points).
    """
    from scrm_lib.social.conversations import service
    from scrm_lib.social.conversations.config import conversations_config

    cfg = conversations_config(settings)
    with using(warehouse) as con:
        return service.survey_scores(con, cfg)


def evaluate_tagger(path: str | Path | None = None, *, settings: Settings | None = None,
                    peer: bool = True) -> dict[str, Any]:  # fmt: skip
    """The tagger scored on the hand-labelled chat set, beside snownlp (see :mod:`.evaluate`).

    Scored once per version of the tagger, taxonomy and labelled set, then read back
    (:func:`.evaluate.evaluation`): the same numbers without seconds of loading.
    """
    from scrm_lib.social.conversations.evaluate import evaluation

    return evaluation(path, settings=settings, peer=peer)
