"""Nested JSON values (lists of items, props objects) turned into flat columns.

List columns are handled with pyarrow list kernels (offsets and child
arrays) rather than a Python loop per row; the Python path is only the
fallback for files whose records disagree on types.

Example
-------
>>> import pyarrow as pa
>>> arr = pa.array([[{"name": "a", "qty": 2}, {"name": "b", "qty": 1}], []])
>>> summarize_list(arr, join="name", total="qty", first="name")["joined"].tolist()
['a; b', nan]
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def as_list_array(values: Any) -> pa.ListArray | None:
    """A pyarrow list array from a column (chunked or Python values); None if not list-like."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        try:
            values = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            return None
    if pa.types.is_large_list(values.type):
        values = values.cast(pa.list_(values.type.value_type))
    if pa.types.is_null(values.type):
        return pa.array([None] * len(values), type=pa.list_(pa.struct([])))
    return values if pa.types.is_list(values.type) else None


def _child(arr: pa.ListArray, name: str | None) -> pa.Array | None:
    values = arr.values
    if name is None:
        return values
    if not pa.types.is_struct(values.type) or values.type.get_field_index(name) < 0:
        return None
    return values.field(name)


def summarize_list(
    arr: pa.ListArray,
    *,
    join: str | None = None,
    total: str | None = None,
    first: str | None = None,
    sep: str = "; ",
) -> pd.DataFrame:
    """Per row of a list column: ``joined`` strings, ``total`` of a number, ``first`` value.

    ``join``/``total``/``first`` name a struct field (or ``None`` for a list of scalars).
    """
    n = len(arr)
    offsets = arr.offsets.to_numpy()
    if arr.offset or len(offsets) != n + 1:
        arr = pa.concat_arrays([arr])  # normalise slices so offsets start at the child's start
        offsets = arr.offsets.to_numpy()
    lengths = np.diff(offsets)
    nonempty = (lengths > 0) & ~arr.is_null().to_numpy(zero_copy_only=False)
    out = pd.DataFrame(index=range(n))
    if join is not None or (first is None and total is None):
        child = _child(arr, join)
        if child is not None:
            strings = pc.cast(child, pa.string())
            lists = pa.ListArray.from_arrays(arr.offsets, strings)
            joined = pc.binary_join(lists, sep).to_pandas()
            out["joined"] = pd.Series(joined, dtype="str").where(nonempty)
        else:
            out["joined"] = pd.Series(pd.NA, index=out.index, dtype="str")
    if total is not None:
        child = _child(arr, total)
        if child is not None:
            vals = (
                pd.to_numeric(pd.Series(pc.cast(child, pa.string()).to_pandas()), errors="coerce")
                .fillna(0)
                .to_numpy(dtype="float64")
            )
            cs = np.concatenate([[0.0], np.cumsum(vals)])
            sums = cs[offsets[1:]] - cs[offsets[:-1]]
            out["total"] = pd.Series(sums).where(nonempty)
        else:
            out["total"] = np.nan
    if first is not None:
        child = _child(arr, first)
        if child is not None and len(child):
            idx = np.minimum(offsets[:-1], len(child) - 1)
            firsts = pc.cast(child.take(pa.array(idx)), pa.string()).to_pandas()
            out["first"] = pd.Series(firsts, dtype="str").where(nonempty)
        else:
            out["first"] = pd.Series(pd.NA, index=out.index, dtype="str")
    return out


def explode_list(arr: pa.ListArray) -> tuple[np.ndarray, pa.Array]:
    """Parent row position and child value of every element of a list column."""
    parents = pc.list_parent_indices(arr).to_numpy()
    return parents, pc.list_flatten(arr)


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def to_json(values: list[Any]) -> list[str | None]:
    """Canonical JSON per value: keys sorted, nulls dropped, so equal content hashes equally.

    Example
    -------
    >>> to_json([{"b": 1, "a": None, "c": 2.0}, None])
    ['{"b":1,"c":2}', None]
    """
    dumps = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
    return [None if v is None else dumps(_clean(v)) for v in values]
