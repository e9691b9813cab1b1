"""Simulated people: who they are and how they buy (the ground truth)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scrm_lib.sample import vocab
from scrm_lib.sample.ids import lowercase, unique_ints
from scrm_lib.sample.timeline import DAY, Window, draw_second_of_day, seasonality

CATEGORIES = list(vocab.CATALOG)
CYCLES = np.array([vocab.CATALOG[c][0] for c in CATEGORIES], dtype=float)


def zipf_weights(n: int, s: float = 1.1) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def _names(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    surnames = np.array(vocab.SURNAMES, dtype=object)
    surname = surnames[rng.choice(len(surnames), size=n, p=zipf_weights(len(surnames), 0.9))]
    gender = rng.choice(np.array([1, 2]), size=n, p=[0.38, 0.62])  # 1 male, 2 female
    female = gender == 2
    pool_f = np.array(vocab.GIVEN_F, dtype=object)
    pool_m = np.array(vocab.GIVEN_M, dtype=object)
    c1 = np.where(
        female, pool_f[rng.integers(0, len(pool_f), n)], pool_m[rng.integers(0, len(pool_m), n)]
    )
    c2 = np.where(
        female, pool_f[rng.integers(0, len(pool_f), n)], pool_m[rng.integers(0, len(pool_m), n)]
    )
    two = rng.random(n) < 0.72
    given = np.where(two, c1 + c2, c1)
    return surname, given, gender


def _places(rng: np.random.Generator, n: int) -> pd.DataFrame:
    w = np.array(vocab.PLACE_WEIGHTS, dtype=float)
    k = rng.choice(len(vocab.PLACES), size=n, p=w / w.sum())
    prov = np.array([p[0] for p in vocab.PLACES], dtype=object)[k]
    city = np.array([p[1] for p in vocab.PLACES], dtype=object)[k]
    ndist = np.array([len(p[2]) for p in vocab.PLACES])[k]
    flat = [d for p in vocab.PLACES for d in p[2]]
    first = np.cumsum([0] + [len(p[2]) for p in vocab.PLACES])[:-1][k]
    district = np.array(flat, dtype=object)[first + (rng.random(n) * ndist).astype(int)]
    streets = np.array(vocab.STREETS, dtype=object)
    comms = np.array(vocab.COMMUNITIES, dtype=object)
    num = rng.integers(1, 999, n).astype(str).astype(object)
    bld = rng.integers(1, 40, n).astype(str).astype(object)
    room = (rng.integers(1, 33, n) * 100 + rng.integers(1, 9, n)).astype(str).astype(object)
    detail = (
        streets[rng.integers(0, len(streets), n)]
        + num
        + "号"
        + comms[rng.integers(0, len(comms), n)]
        + bld
        + "幢"
        + room
        + "室"
    )
    return pd.DataFrame({"province": prov, "city": city, "district": district, "address": detail})


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    prefixes = np.array([int(p) for p in vocab.MOBILE_PREFIXES], dtype="int64")
    # Encode prefix index and 8 random digits in one int so uniqueness is one np.unique.
    raw = unique_ints(rng, n + 1, 0, len(prefixes) * 100_000_000)
    phones = prefixes[raw // 100_000_000] * 100_000_000 + raw % 100_000_000
    phones = phones[phones != int(vocab.TEST_PHONE)][:n]
    return phones.astype(str).astype(object)


def make_persons(
    rng: np.random.Generator, n: int, window: Window, channels: pd.DataFrame
) -> pd.DataFrame:
    """One row per simulated person, with the BTYD parameters that drive their orders.

    Purchase rate λ (per day) is a Gamma draw scaled by the replenishment cycle
    of the person's main category; dropout probability p after each purchase
    is Beta(2, 7). ``t0`` (seconds into the window) is when they first appear.
    ``channel_code`` is the code drawn for them; :func:`.acquisition.settle`
    matches it with their accounts and applies the code's value.
    """
    surname, given, gender = _names(rng, n)
    places = _places(rng, n)
    phone = _phones(rng, n)

    has_bday = rng.random(n) < 0.68
    year = rng.integers(1968, 2006, n)
    doy = rng.integers(0, 365, n)
    bday = pd.to_datetime(year.astype(str), format="%Y") + pd.to_timedelta(doy, unit="D")
    birthday = np.where(has_bday, bday.strftime("%Y-%m-%d").to_numpy(dtype=object), None)

    has_email = rng.random(n) < 0.3
    domains = np.array(vocab.EMAIL_DOMAINS, dtype=object)
    email = (
        lowercase(rng, n, 5)
        + rng.integers(10, 9999, n).astype(str).astype(object)
        + "@"
        + domains[rng.integers(0, len(domains), n)]
    )
    email = np.where(has_email, email, None)

    cat = rng.choice(len(CATEGORIES), size=n, p=np.array(vocab.CATEGORY_WEIGHTS) / 100)
    g = np.minimum(rng.gamma(shape=1.1, scale=0.45, size=n), 4.0)
    lam = g / CYCLES[cat]
    p = rng.beta(2.0, 7.0, size=n)

    # Acquisition follows the season too, and the base grows over time.
    season = seasonality(window)
    grow = np.linspace(0.7, 1.3, window.days)
    w = season * grow
    day = rng.choice(window.days, size=n, p=w / w.sum())
    # A quarter of the base was acquired in the year before the window (negative t0):
    # they enter the window mid-relationship, some already gone.
    early = rng.random(n) < 0.25
    day = np.where(early, -rng.integers(1, 366, n), day)
    t0 = day.astype("int64") * DAY + draw_second_of_day(rng, n)
    # Not in the last hours: every account of the person is created inside the window.
    t0 = np.minimum(t0, window.seconds - 2 * 3600)

    has_channel = rng.random(n) < 0.6
    codes = channels["渠道码"].to_numpy(dtype=object)
    k = rng.choice(len(codes), size=n, p=zipf_weights(len(codes)))
    channel = np.where(has_channel, codes[k], "")

    return pd.DataFrame(
        {
            "person_id": pd.Series(np.arange(1, n + 1)).map("P{:07d}".format).to_numpy(),
            "surname": surname,
            "given": given,
            "name": surname + given,
            "gender": gender,
            "phone": phone,
            "email": email,
            "birthday": birthday,
            "province": places["province"].to_numpy(),
            "city": places["city"].to_numpy(),
            "district": places["district"].to_numpy(),
            "address": places["address"].to_numpy(),
            "category": np.array(CATEGORIES, dtype=object)[cat],
            "lam": lam,
            "p": p,
            "t0": t0,
            "channel_code": channel,
        }
    )
