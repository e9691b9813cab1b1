"""Ground-truth files: what really happened, for tests and benchmarks only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from scrm_lib.sample import orders as O
from scrm_lib.sample.files import money, write_csv
from scrm_lib.sample.journeys import utc_iso
from scrm_lib.sample.timeline import Window

README = """# Ground truth for the scrm sample data

Written by `scrm_lib.sample.generate`; the pipeline never reads this folder.
Same seed, same bytes.

- `accounts.csv` — every account id exactly as ingest computes it
  (`<platform>:<native id>`, Douyin via `douyin_buyer_key`), with `person_id`,
  `platform`, the name shown on that account (`display_name`, variants on
  purpose), `test_phone` (the shop test phone 13800138000 was typed on this
  account instead of the real one), `referral_role` (mini-program
  accounts: member / group_leader / distributor) and `in_exports` (the
  account appears in some export; a shop account with no order does not).
  SMS touches and consent keyed by a phone number reach the warehouse as
  contact points `phone:<E.164>`, which are not listed here.
- `persons.csv` — one row per simulated person: name, gender, phone (E.164),
  email, birthday, city, main category; buy-till-you-die parameters `lambda`
  (purchases per day before seasonality) and `p` (dropout probability after
  each purchase); `first_seen` (acquisition date; before the window start for
  the base acquired earlier); `churned` and `churn_date` (the day of the
  purchase after which they dropped out — no order of theirs is created after
  that day); `home_platform` (where most of their orders go);
  `channel_code` (acquisition channel, from channels.csv, empty = organic or
  referral: see `acquisition.csv`);
  `n_accounts`, `n_orders`; `referrals_made` (invites made, planted ones
  included). Planted fake invitees (see `referral_abuse.csv`) are persons
  too, after the simulated ones: their nickname as name, `lambda` 0 and `p` 1
  (they never buy), a burner phone or none, no email, birthday or category.
- `orders.csv` — every real order (garbage rows excluded): platform,
  order_id as ingest should key it (Tmall number without `="..."`, Douyin main
  order id), account_id, person_id, created_at (local), final status as of the
  window end (paid / refunded / cancelled / pending), amount in CNY,
  refund_amount, lines.
- `referrals.csv` — one row per person (same order as `persons.csv`), on
  the true person graph of `miniapp_referrals.jsonl` (every invite, rings
  included; an invite of one's own second account is no edge; planted fake
  persons are not counted as anyone's invitees): `referral_role` (the
  mini-program role, empty without a mini-program account),
  `influential` (one of the few planted influential persons: early
  customers whose invitees converted within 14 days of the invite and
  bought well, some through invitees of theirs; their
  `downstream_net_gmv` is clearly the highest of all persons),
  `planted_fake` (a fake invitee's person), `direct_invites` (persons they
  invited), `direct_net_gmv` (those invitees' net GMV, yuan: a group
  leader's or distributor's sales through their invites),
  `downstream_persons` and `downstream_net_gmv` (everyone reachable
  through invites, each person counted once; net as in `orders.csv`, all
  of the person's orders in the window).
- `referral_abuse.csv` — one row per planted abuse case: `case_id`,
  `kind` (`burst`: one inviter invites 6–12 fake accounts 10–60 seconds
  apart; `fake_invitee`: one such fake account — a new
  mini-program user named like `用户8372` who never orders, some sharing
  a burner phone, at most 3 to a phone, each phone one person; `ring`: a
  cycle A→B→C→A of later invites among existing customers, each invite
  in another campaign; `self_referral`: a person's second mini-program
  account, with their phone, invited by their first), the case's
  invites as `inviter_account_ids` and `invitee_account_ids` (`;`-joined,
  pairwise), `person_ids` (`;`-joined, the inviter's first) and `detail`
  (burst size and minutes, the shared phone, a ring's campaigns). Planted
  accounts and persons come after the simulated ones in `accounts.csv`
  and `persons.csv`; they are in `acquisition.csv` and `funnel.csv` as
  any other (a fake invitee's invite acquired them: `referral`).
- `messages.csv` — chat archive labels: msgid, intent (purchase_intent,
  service, complaint, praise, chitchat; `staff` for staff turns), sentiment
  (positive / neutral / negative), direction, roomid.
- `experiments.json` — design and TRUE effects of the two experiments, with
  realized counts.
- `experiment_outcomes.csv` — one row per enrolled person and experiment:
  effective arm (B if any of their units was in B), window_start (local),
  active (rates apply), converted (has an order in the outcome window).
  Conversions are allocated exactly: round(rate × n) per arm among active
  persons, so realized rates equal the true rates up to rounding.
- `acquisition.csv` — one row per person: how and when they were acquired.
  `person_id`; `channel_type` (活码 / 海报 / 广告 / 直播间 / 门店 for a code,
  `referral` for a person invited in the mini-program, `douyin_influencer`
  for a person otherwise organic whose first order, within a day of their
  acquisition, was a Douyin order through a 达人 (code = the 达人ID),
  `organic`);
  `channel_code` (empty for referral and organic); `campaign` and `staff_id`
  (the code's 活动 and 导购 in channels.csv); `acquired_at` (UTC ISO 8601,
  `…Z`; before the window start for the base acquired earlier). The
  acquisition touch happened at `acquired_at`, which is the person's
  `first_seen`: the WeCom add with `state` = the code (活码), the
  mini-program subscription with `qr_scene_str` = the code and its `qr_scan`
  event (other codes; the event only inside the window), the referral's
  invite (referral). No other touch with a code (a later `state`, scan or
  invite) is earlier. `visible`: an export shows that touch (False where the
  add's `state` or the scan's scene string and event were lost; organic:
  an export shows the person's first appearance — a WeCom add, a
  subscription or an order inside the window at `acquired_at` — False for a
  person first seen before the window through an order no export holds;
  douyin_influencer: the 达人's order is inside the window; orders'
  `channel_code` does not count);
  `inviter_person_id` (referral only).
- `channel_value.csv` — one row per code of channels.csv: `channel_code`,
  `channel_type`, `campaign`, `staff_id`, `multiplier` (the code's TRUE value
  multiplier: the purchase rate of the persons it acquired was scaled by
  it; 1 for referral and organic persons), `persons` (acquired by it),
  `persons_90d` (of those, acquired inside the window at least 90 days
  before its end), `net_gmv_90d_per_person` (yuan: net value — amount minus
  refund of paid and refunded orders, as in `orders.csv` — of the orders
  the `persons_90d` created in the 90 days from acquisition, divided by
  `persons_90d`; empty when 0), `cost` (as in channels.csv; empty = unknown,
  so the ROI is undefined).
- `funnel.csv` — `person_id`, `step`, `ts` (UTC ISO 8601): the first time
  each person reached each step of the default journey, from the simulated
  events and orders (before export noise; WeCom adds and subscriptions of
  the base acquired earlier are before the window start): `scan_or_add`
  (a QR scan, also a lost acquisition scan, or a WeCom add),
  `group_or_follow` (a WeCom group join, a WeCom add or a mini-program
  subscription), `view` (a page view or group-buy join), `cart` (cart add),
  `first_order` (the first order paid by the window end; `ts` its creation),
  `second_order_90d` (the next paid order, created within 90 days of the
  first). Steps a person never reached have no row.
- `automation_effects.csv` — one row per shipped automation rule
  (`scrm_lib/sample/automation_plants.py`): `true_effect` (the absolute
  uplift of conversion within `conversion_days` of the run date planted for
  the rule's `send` arm; 0 exactly for every rule without a planted audience,
  whose units are the sample's own persons), `planted_audience`, `run_dates`
  (`;`-joined: run `scrm triggers run --date` for each), `units_send` and
  `units_holdout` (the units the generator knows, before suppression),
  `natural_rate` (their conversion without the plant) and `planted_orders`.
  The planted audiences: `groupbuy_views_no_order` (three group-buy page
  views in the 7 days before the run, in `miniapp_events_automation.jsonl`)
  and `cart_unpaid_24h` (a cart add 25–40 hours before it, plus the sample's
  own unpaid carts of that age); extra orders of converted `send` units are
  in `miniapp_orders_automation.jsonl` and in `orders.csv`; the `send` units'
  touches (campaign `auto:<rule>:<run date>`) are the last rows of
  `touches.csv`.
- `automation_units.csv` — one row per unit the generator knows: `rule`,
  `run_date`, `true_person_id`, `person_id` (OneID's stable id on a first
  build, as the generator computes it), `arm` (scrm's salted hold-out draw),
  `planted`, `natural_conversion`, `planted_order`, `opted_out` (withdrew
  `wecom_1v1` consent before the run date and not granted again by then:
  suppressed as `opt_out`).
- `automation_consent.csv` — the planted consent changes (the last rows of
  `consent.csv`): `person_id`, `account_id`, `channel`, `granted`, `ts`
  (local), the `run_date` and `rule` they were planted around, and
  `suppressed_on_run` (the opt-out is still in force on that run date).
- `noise.json` — per export file: exact duplicate rows and garbage rows
  injected (unparseable amount or date; they carry fresh order numbers), time
  formats, title rows, numbers-as-text, status snapshot date, and the file's
  `dialect` (`scrm_lib/sample/dialects.py`): columns or keys renamed to other
  aliases, dropped and added columns, column order, encoding, time format or
  unit, other spellings of statuses and event names, money in fen or yuan.

Notes
- Douyin `订单应付金额` is per sub-order row (line amount); `运费` sits on the
  first sub-order of an order only.
- Tmall files overlap by 30 days; the later file shows the newer status of
  the same order (e.g. 卖家已发货 → 交易成功, or 交易关闭 with 退款金额).
- WeCom contacts whose customer deleted the sales rep (`del_follow_user`)
  are still in `wecom_contacts.jsonl` (the CRM keeps them).
- Chat `tolist` holds the staff member (private) or the group owner; group
  owners' broadcast posts have an empty `tolist`.
"""


def write(
    out: Path,
    window: Window,
    persons: pd.DataFrame,
    accounts: pd.DataFrame,
    orders: pd.DataFrame,
    churned: np.ndarray,
    churn_t: np.ndarray,
    roles: pd.Series,
    ref: pd.DataFrame,
    messages: pd.DataFrame,
    experiments: dict,
    outcomes: pd.DataFrame,
    noise: dict,
) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    acc = pd.DataFrame(
        {
            "account_id": accounts["account_id"],
            "person_id": persons["person_id"].to_numpy()[accounts["person_idx"].to_numpy()],
            "platform": accounts["platform"],
            "display_name": accounts["display_name"],
            "test_phone": accounts["test_phone"],
            "referral_role": roles.reindex(np.arange(len(accounts))).fillna("").to_numpy(),
            # shop accounts show up in exports only through their orders
            "in_exports": accounts["platform"].isin(["wechat", "wecom"]).to_numpy()
            | accounts["account_id"].isin(orders["account_id"]).to_numpy(),
        }
    )
    write_csv(acc, out / "accounts.csv", "utf-8")
    written["accounts.csv"] = len(acc)

    n = len(persons)
    n_orders = np.bincount(orders["person_idx"].to_numpy(), minlength=n)
    n_acc = np.bincount(accounts["person_idx"].to_numpy(), minlength=n)
    cnt = orders.groupby(["person_idx", "platform"]).size().rename("k").reset_index()
    cnt = cnt.sort_values(["person_idx", "k", "platform"], ascending=[True, False, True])
    home = cnt.drop_duplicates("person_idx").set_index("person_idx")["platform"]
    made = np.bincount(
        accounts["person_idx"].to_numpy()[ref["inviter_row"].to_numpy()], minlength=n
    )
    churn_date = np.where(churned, window.local_text(np.where(churned, churn_t, 0), "date"), "")
    per = pd.DataFrame(
        {
            "person_id": persons["person_id"],
            "name": persons["name"],
            "gender": persons["gender"],
            # planted fake persons without a burner phone have none
            "phone": ("+86" + persons["phone"].fillna("")).replace("+86", ""),
            "email": persons["email"],
            "birthday": persons["birthday"],
            "city": persons["city"],
            "category": persons["category"],
            "lambda": persons["lam"].round(6),
            "p": persons["p"].round(6),
            "first_seen": window.local_text(persons["t0"].to_numpy(), "date"),
            "churned": churned,
            "churn_date": churn_date,
            "home_platform": home.reindex(np.arange(n)).fillna("").to_numpy(),
            "channel_code": persons["channel_code"],
            "n_accounts": n_acc,
            "n_orders": n_orders,
            "referrals_made": made,
        }
    )
    write_csv(per, out / "persons.csv", "utf-8")
    written["persons.csv"] = len(per)

    code = O.status_at(orders, window.seconds)
    total = orders["goods"].to_numpy() + orders["shipping"].to_numpy()
    refunded = code == O.REFUNDED
    ordf = pd.DataFrame(
        {
            "platform": orders["platform"],
            "order_id": orders["order_no"],
            "account_id": orders["account_id"],
            "person_id": persons["person_id"].to_numpy()[orders["person_idx"].to_numpy()],
            "created_at": window.local_text(orders["created"].to_numpy()),
            "status": O.truth_status(code),
            "amount": money(total).to_numpy(),
            "refund_amount": money(
                np.where(refunded, orders["refund_fee"].to_numpy(), 0)
            ).to_numpy(),
            "lines": orders["n_lines"],
            "category": orders["category"],
        }
    )
    write_csv(ordf, out / "orders.csv", "utf-8")
    written["orders.csv"] = len(ordf)

    write_csv(messages, out / "messages.csv", "utf-8")
    written["messages.csv"] = len(messages)
    oc = pd.DataFrame(
        {
            "experiment": outcomes["experiment"],
            "person_id": persons["person_id"].to_numpy()[outcomes["person_idx"].to_numpy()],
            "arm": outcomes["arm"],
            "window_start": window.local_text(outcomes["t"].to_numpy()),
            "active": outcomes["active"],
            "converted": outcomes["converted"],
        }
    )
    write_csv(oc, out / "experiment_outcomes.csv", "utf-8")
    written["experiment_outcomes.csv"] = len(oc)
    for name, obj in (("experiments.json", experiments), ("noise.json", noise)):
        (out / name).write_text(
            json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        written[name] = len(obj)
    (out / "README.md").write_text(README, encoding="utf-8")
    return written


def write_channels(
    out: Path,
    window: Window,
    persons: pd.DataFrame,
    acq: pd.DataFrame,
    value: pd.DataFrame,
    steps: pd.DataFrame,
) -> dict[str, int]:
    """``acquisition.csv``, ``channel_value.csv`` and ``funnel.csv`` (see :data:`README`)."""
    pid = persons["person_id"].to_numpy(dtype=object)
    inviter = acq["inviter_idx"].to_numpy()
    frames = {
        "acquisition.csv": pd.DataFrame(
            {
                "person_id": pid[acq["person_idx"].to_numpy()],
                "channel_type": acq["channel_type"],
                "channel_code": acq["channel_code"],
                "campaign": acq["campaign"],
                "staff_id": acq["staff_id"],
                "acquired_at": utc_iso(window, acq["t"].to_numpy()),
                "visible": acq["visible"],
                "inviter_person_id": np.where(inviter >= 0, pid[np.maximum(inviter, 0)], ""),
            }
        ),
        "channel_value.csv": value,
        "funnel.csv": pd.DataFrame(
            {
                "person_id": pid[steps["person_idx"].to_numpy()],
                "step": steps["step"].to_numpy(),
                "ts": utc_iso(window, steps["t"].to_numpy()),
            }
        ),
    }
    for name, df in frames.items():
        write_csv(df, out / name, "utf-8")
    return {name: len(df) for name, df in frames.items()}
