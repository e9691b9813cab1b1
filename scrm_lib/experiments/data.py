"""The Hillstrom MineThatData e-mail experiment, shipped with scrm (nothing downloads).

Example
-------
>>> df = load_hillstrom()
>>> len(df), sorted(df["segment"].unique())
(64000, ['Mens E-Mail', 'No E-Mail', 'Womens E-Mail'])
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pandas as pd

from scrm_lib.errors import ScrmError

HILLSTROM = Path(__file__).resolve().parent.parent / "datasets" / "hillstrom.csv.zip"
HILLSTROM_SHA256 = "0e5893329d8b93cefecc571777672028290ab69865718020c78c7284f291aece"


def load_hillstrom() -> pd.DataFrame:
    """64,000 customers: ``segment`` (arm; control "No E-Mail"), visit, conversion, spend, ...

    The file's sha256 is checked, so a changed copy is refused.
    """
    with zipfile.ZipFile(HILLSTROM) as z:
        raw = z.read("hillstrom.csv")
    if hashlib.sha256(raw).hexdigest() != HILLSTROM_SHA256:
        raise ScrmError(f"{HILLSTROM}: sha256 differs from the published copy")
    return pd.read_csv(io.BytesIO(raw))
