"""The sample generator: people, their accounts, orders and chats, written as exports."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from scrm_lib.errors import ConfigError
from scrm_lib.sample import (
    accounts as A,
)
from scrm_lib.sample import (
    acquisition,
    automation_plants,
    btyd,
    experiments,
    journeys,
    marketing,
    miniapp,
    referral_plants,
    shops,
    social,
    surveys,
    truth,
    wecom,
    xiaohongshu,
)
from scrm_lib.sample import orders as O
from scrm_lib.sample.files import write_csv, write_lines
from scrm_lib.sample.persons import make_persons
from scrm_lib.sample.timeline import Window

__all__ = ["generate"]
log = logging.getLogger(__name__)

# One independent random stream per concern: changing one part of the
# simulation leaves the others' draws (and files) unchanged.
_STREAMS = [
    "channels",
    "persons",
    "accounts",
    "staff",
    "follows",
    "groups",
    "btyd",
    "experiments",
    "orders",
    "ids",
    "tmall",
    "douyin",
    "youzan",
    "miniapp",
    "referrals",
    "events",
    "wecom_events",
    "chat",
    "contacts",
    "touches",
    "consent",
    "dialects",
    "xiaohongshu",
    "acquisition",
    "surveys",
    "referral_plants",
    "automation_plants",
]


# Appended to, never reordered: each stream's draws stay the same when one is added.
DIALECT_STREAMS = ["tmall", "douyin", "youzan", "miniapp_users", "miniapp_orders", "miniapp_events"]


def _window(start: str, end: str) -> Window:
    try:
        a, b = pd.Timestamp(start), pd.Timestamp(end)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"start/end must be dates like 2024-11-01: {start!r}, {end!r}") from exc
    if a.tzinfo is not None or b.tzinfo is not None:
        raise ConfigError("start/end are local (Asia/Shanghai) dates without a time zone")
    a, b = a.normalize(), b.normalize()
    if a >= b:
        raise ConfigError(f"start ({start}) must be before end ({end})")
    if (b - a).days < 30:
        raise ConfigError(f"the window {start}..{end} is shorter than 30 days")
    return Window(a, b)


def generate(
    persons: int,
    *,
    seed: int = 42,
    out: str | Path,
    start: str = "2024-11-01",
    end: str = "2026-10-31",
    _douyin_max_rows: int | None = None,
    _dialects: bool = True,
    _keep: dict | None = None,
) -> dict:
    """Write a realistic sample: raw exports and ground truth.

    Parameters
    ----------
    persons : int
        Number of simulated people (each has 1–4 accounts).
    seed : int
        Seed of the random generator; the same seed writes the same bytes.
    out : str or Path
        Output folder; ``exports/`` and ``truth/`` are created inside.
    start, end : str
        First and last local date (Asia/Shanghai) of the simulated window.
    _dialects : bool
        False writes every export exactly as ``docs/raw-formats.md`` shows it
        (for tests comparing the dialects with the documented spelling).
    _keep : dict, optional
        Filled with the simulation's frames (persons, accounts, follows, ...)
        for tests that check its invariants.

    Returns
    -------
    dict
        ``files`` (name → data rows, exports and truth), ``persons``,
        ``accounts``, ``orders``, ``seconds``.

    Examples
    --------
    >>> summary = generate(500, seed=7, out="/tmp/scrm-sample")  # doctest: +SKIP
    >>> summary["persons"]  # doctest: +SKIP
    500
    """
    if isinstance(persons, bool) or not isinstance(persons, (int, np.integer)) or persons < 1:
        raise ConfigError(f"persons must be an integer >= 1, got {persons!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    window = _window(start, end)
    t_start = time.perf_counter()
    root = Path(out)
    exp_dir, truth_dir = root / "exports", root / "truth"
    exp_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    rng = dict(
        zip(
            _STREAMS,
            (
                np.random.default_rng(s)
                for s in np.random.SeedSequence(int(seed)).spawn(len(_STREAMS))
            ),
            strict=True,
        )
    )
    files: dict[str, int] = {}
    noise: dict[str, dict] = {}

    staff = wecom.make_staff(rng["staff"], persons)
    channels = marketing.make_channels(rng["channels"], persons, window, staff)
    people = make_persons(rng["persons"], int(persons), window, channels)
    accounts = A.make_accounts(rng["accounts"], people, window)
    acquisition.settle(rng["acquisition"], people, accounts, channels)
    marketing.backdate_channels(channels, people, window)
    follows = wecom.make_follows(rng["follows"], accounts, staff, channels, people, window)
    log.info("persons and accounts: %d, %d", len(people), len(accounts))

    _, _start_ix, count = O.orderable_accounts(accounts)
    can_order = np.zeros(len(people), dtype=bool)
    can_order[: len(count)] = count > 0
    purchases, churned, churn_t = btyd.simulate(rng["btyd"], people, can_order, window)
    groups, members = wecom.make_groups(rng["groups"], accounts, follows, churned, churn_t, window)
    purchases, assignments, exp_truth, outcomes = experiments.run(
        rng["experiments"],
        people,
        accounts,
        purchases,
        churned,
        churn_t,
        can_order,
        groups,
        members,
        window,
    )
    orders = O.build_orders(rng["orders"], purchases, people, accounts, window)
    shops.assign_order_ids(rng["ids"], orders, window)
    orders["groupbuy_id"] = miniapp.groupbuys(rng["miniapp"], orders)
    orders, accounts = xiaohongshu.move_orders(rng["xiaohongshu"], orders, accounts, people)
    log.info("orders: %d", len(orders))

    # each export's files draw their dialects (column spellings, units, ...) from their own stream
    dia = dict(zip(DIALECT_STREAMS, rng["dialects"].spawn(len(DIALECT_STREAMS)), strict=True))
    dia = dia if _dialects else dict.fromkeys(DIALECT_STREAMS)
    tm = shops.write_tmall(
        rng["tmall"], orders, accounts, window, exp_dir, noise, dialect_rng=dia["tmall"]
    )
    files.update(tm)
    kw = {} if _douyin_max_rows is None else {"max_rows": _douyin_max_rows}
    kw["dialect_rng"] = dia["douyin"]
    kw["influencers"] = influencers = []
    files.update(shops.write_douyin(rng["douyin"], orders, accounts, window, exp_dir, noise, **kw))
    yz = shops.write_youzan(
        rng["youzan"], orders, accounts, window, exp_dir, noise, dialect_rng=dia["youzan"]
    )
    files.update(yz)
    files.update(xiaohongshu.write(rng["xiaohongshu"], orders, accounts, window, exp_dir, noise))
    log.info("shop exports written")

    sub_t = miniapp.subscribe_times(rng["miniapp"], accounts, orders, people)
    info, user_lines, user_dialect = miniapp.users(
        rng["miniapp"], accounts, people, sub_t, window, dia["miniapp_users"]
    )
    noise["miniapp_users.jsonl"] = {"dialect": user_dialect}
    files.update(
        miniapp.orders_file(
            rng["miniapp"], orders, accounts, window, exp_dir, noise, dia["miniapp_orders"]
        )
    )
    ref, roles = miniapp.referrals(rng["referrals"], info, window)
    # influential persons and abuse with known answers; planted rows come after the simulated
    plants = referral_plants.plant(
        rng["referral_plants"],
        people,
        accounts,
        churned,
        churn_t,
        info,
        ref,
        roles,
        orders,
        window,
        user_dialect,
    )
    files["miniapp_users.jsonl"] = write_lines(
        pd.concat([user_lines, plants.user_lines], ignore_index=True),
        exp_dir / "miniapp_users.jsonl",
    )
    files["miniapp_referrals.jsonl"] = miniapp.referrals_file(
        rng["referrals"], plants.ref, plants.accounts, window, exp_dir
    )
    ev, happened = miniapp.events_file(
        rng["events"],
        plants.accounts,
        orders,
        info,
        plants.ref,
        channels,
        churned,
        churn_t,
        window,
        exp_dir,
        noise,
        dia["miniapp_events"],
        extra_shares=plants.extra_shares,
    )
    files.update(ev)
    log.info("mini-program files written")

    files["wecom_contacts.jsonl"] = social.contacts_file(
        rng["contacts"], accounts, people, follows, exp_dir, window
    )
    files["wecom_events.jsonl"], _ = social.events_file(
        rng["wecom_events"],
        accounts,
        follows,
        groups,
        members,
        churned,
        churn_t,
        window,
        exp_dir,
        noise,
    )
    files["wecom_chat_archive.jsonl"], msg_truth = social.chat_file(
        rng["chat"], accounts, follows, groups, members, orders, churned, churn_t, window, exp_dir
    )
    files["staff.csv"] = write_csv(staff, exp_dir / "staff.csv", "utf-8")
    files[surveys.FILE] = surveys.answers_file(
        rng["surveys"], accounts, follows, orders, churned, churn_t, window, exp_dir, noise
    )
    log.info("WeCom files written")

    files["channels.csv"] = write_csv(
        channels[marketing.CHANNEL_COLUMNS], exp_dir / "channels.csv", "utf-8"
    )
    touches = marketing.make_touches(rng["touches"], accounts, assignments, window)
    consent = marketing.make_consent(rng["consent"], accounts, window)
    # automation audiences, effects, touches and consent changes; planted rows come last
    auto = automation_plants.plant(
        rng["automation_plants"],
        plants.persons,
        plants.accounts,
        plants.churned,
        plants.churn_t,
        orders,
        happened,
        touches,
        consent,
        window,
    )
    files.update(automation_plants.write_exports(exp_dir, auto))
    touches = pd.concat([touches, auto.touches], ignore_index=True)
    files["touches.csv"] = write_csv(touches, exp_dir / "touches.csv", "utf-8")
    consent = pd.concat([consent, auto.consent], ignore_index=True)
    files["consent.csv"] = write_csv(consent, exp_dir / "consent.csv", "utf-8")
    orders = pd.concat([orders, auto.orders], ignore_index=True)
    happened = pd.concat([happened, auto.events], ignore_index=True)
    assign = pd.DataFrame(
        {
            "experiment": assignments["experiment"],
            "unit_type": assignments["unit_type"],
            "unit_id": assignments["unit_id"],
            "variant": assignments["variant"],
            "assigned_at": window.iso_offset(assignments["t"].to_numpy()),
        }
    )
    files["experiment_assignments.csv"] = write_csv(
        assign, exp_dir / "experiment_assignments.csv", "utf-8"
    )

    role_series = pd.Series(plants.roles, index=plants.info["account_row"].to_numpy())
    written = truth.write(
        truth_dir,
        window,
        plants.persons,
        plants.accounts,
        orders,
        plants.churned,
        plants.churn_t,
        role_series,
        plants.ref,
        msg_truth,
        exp_truth,
        outcomes,
        noise,
    )
    acq = journeys.acquisition(
        plants.persons,
        plants.accounts,
        follows,
        plants.info,
        plants.ref[plants.acquiring],
        channels,
        orders,
    )
    acq = journeys.with_influencer_acquisition(acq, orders, influencers[0])
    value = journeys.channel_value(acq, orders, channels, window)
    steps = journeys.funnel(
        plants.persons, plants.accounts, follows, members, plants.info, happened, orders, window
    )
    written.update(truth.write_channels(truth_dir, window, plants.persons, acq, value, steps))
    written.update(referral_plants.write_truth(truth_dir, plants, orders, window))
    written.update(automation_plants.write_truth(truth_dir, auto, plants.persons))
    files.update({f"truth/{k}": v for k, v in written.items()})
    if _keep is not None:  # the simulation's own frames, for tests of its invariants
        _keep.update(
            persons=plants.persons,
            accounts=plants.accounts,
            channels=channels,
            follows=follows,
            info=plants.info,
            referrals=plants.ref,
            events=happened,
            orders=orders,
            acquisition=acq,
            plants=plants,
        )
    seconds = round(time.perf_counter() - t_start, 2)
    log.info("sample written to %s in %.1f s", root, seconds)
    return {
        "out": str(root),
        "files": files,
        "persons": int(persons),
        "accounts": len(accounts),
        "orders": len(orders),
        "seconds": seconds,
    }
