"""Nested JSON values (lists of items, props objects) turned into flat columns.

List columns are handled with pyarrow list kernels (offsets and child
arrays) rather than a Python loop per row; the Python path is only the
fallback for files whose records disagree on types.

:func:`checked_list` gives a list column one declared type. A record whose
value does not fit (a string where a list belongs, an item that is not an
object, a time that is not a number, a required key missing) is named with
its row, path and reason, so the adapter rejects that record alone and its
neighbours keep their data.

Example
-------
>>> import pyarrow as pa
>>> arr = pa.array([[{"name": "a", "qty": 2}, {"name": "b", "qty": 1}], []])
>>> summarize_list(arr, join="name", total="qty", first="name")["joined"].tolist()
['a; b', nan]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


#: Values :func:`_clean` leaves as they are; checked inline, since a call per leaf value
#: was most of the cost of rendering a million events' properties.
_AS_IS = frozenset({str, int, bool})


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: v if type(v) in _AS_IS else _clean(v) for k, v in value.items() if v is not None}
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


def frame_to_json(frame: pd.DataFrame, keys: pd.DataFrame | None = None) -> list[str | None]:
    """:func:`to_json` of each row of ``frame`` as a dict, rendered once per distinct row.

    Event attributes repeat a few shapes (staff, state, add way), so most rows
    share their JSON with an earlier one. ``keys``: hashable columns that
    identify a row's content when ``frame`` holds lists (e.g. the tags joined
    as text beside the tag lists); default ``frame`` itself. Rows are grouped
    by equality, so a column must hold one kind of value (``1``, ``1.0`` and
    ``True`` are one key but three JSON texts).

    Example
    -------
    >>> frame_to_json(pd.DataFrame({"a": ["x", "x", "y"], "b": [1, 1, None]}, dtype=object))
    ['{"a":"x","b":1}', '{"a":"x","b":1}', '{"a":"y"}']
    """
    if frame.empty:
        return []
    keys = frame if keys is None else keys
    codes = keys.groupby(list(keys.columns), dropna=False, sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(codes))).groupby(codes, sort=True).first().to_numpy()
    rendered = to_json(frame.iloc[first].to_dict("records"))
    return list(np.asarray(rendered, dtype=object)[codes])


# ---------------------------------------------------------------- typed, checked lists


@dataclass(frozen=True)
class CheckedList:
    """A list column with one declared type, and what did not fit it.

    Attributes
    ----------
    array
        ``list<item>``, one entry per input row; null where the row's value
        was missing or did not fit.
    problems
        One row per misfit: ``pos`` (row position), ``column`` (dotted path,
        e.g. ``follow_user.createtime``), ``reason`` and ``raw`` (the value as
        JSON). Several problems of one row are all listed.
    """

    array: pa.ListArray
    problems: pd.DataFrame


_PROBLEM_COLUMNS = ["pos", "column", "reason", "raw"]


def checked_list(
    values: Any, item: pa.DataType, *, name: str, required: Sequence[str] = ()
) -> CheckedList:
    """Read a list column as ``list<item>``; name every record that does not fit.

    Parameters
    ----------
    values
        The column: a pyarrow (chunked) array, or one Python value per row.
    item
        The type of an element: a scalar type, or a struct whose fields are
        matched by name (extra keys are ignored, absent ones are null).
    name
        The column's name, the start of each problem's path.
    required
        Struct fields every element must have (non-null).

    Returns
    -------
    CheckedList
        The typed array and the problems (empty when every row fits).

    Examples
    --------
    >>> item = pa.struct([("userid", pa.string()), ("createtime", pa.int64())])
    >>> out = checked_list(
    ...     [[{"userid": "li", "createtime": 1}], "li", [{"createtime": "x"}]],
    ...     item, name="follow_user", required=["userid"])
    >>> out.array.to_pylist()[0], out.array.to_pylist()[1]
    ([{'userid': 'li', 'createtime': 1}], None)
    >>> out.problems[["pos", "column", "reason"]].values.tolist()
    [[1, 'follow_user', 'not a list'], [2, 'follow_user.createtime', 'not a whole number']]
    """
    target = pa.list_(item)
    arr = _fast_cast(values, target)
    if arr is None:
        pylist = _pylist(values)
        arr, problems = _python_check(pylist, item, name)
    else:
        problems = []
    missing = _missing_required(arr, item, name, required)
    frame = pd.DataFrame(problems + missing, columns=_PROBLEM_COLUMNS)
    if len(frame):
        # a record that broke somewhere carries nothing: its whole value is null
        keep = np.ones(len(arr), dtype=bool)
        keep[frame["pos"].to_numpy(dtype=np.int64)] = False
        arr = pc.if_else(pa.array(keep), arr, pa.nulls(len(arr), type=target))
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
    return CheckedList(arr, frame.sort_values("pos", kind="stable", ignore_index=True))


def list_field(
    ctx: Any, fld: str, item: pa.DataType, *, required: Sequence[str] = ()
) -> pa.ListArray | None:
    """The list column of a mapped field, checked; each record that does not fit is rejected.

    ``ctx`` is the adapter's :class:`scrm_lib.ingest.base.Context`. Returns
    None when the file has no such column.

    Example
    -------
    >>> follows = list_field(ctx, "follow_user", FOLLOW, required=["userid"])  # doctest: +SKIP
    """
    if not ctx.has(fld):
        return None
    col = ctx.cols[fld]
    if ctx.raw.arrow is not None and col in ctx.raw.arrow.column_names:
        values = ctx.raw.arrow.column(col)
    else:
        values = ctx.raw.pylist(col)
    label = ctx.label(fld)
    checked = checked_list(values, item, name=label, required=required)
    for (column, reason), group in checked.problems.groupby(["column", "reason"], sort=False):
        mask = pd.Series(False, index=ctx.index)
        mask.iloc[group["pos"].to_numpy(dtype=np.int64)] = True
        raw = pd.Series(pd.NA, index=ctx.index, dtype="str")
        first = group.drop_duplicates("pos")
        raw.iloc[first["pos"].to_numpy(dtype=np.int64)] = first["raw"].to_numpy()
        ctx.reject(mask, column, reason, raw)
    return checked.array


def reject_non_objects(ctx: Any, fld: str) -> None:
    """Reject each record whose ``fld`` holds something other than a JSON object (or nothing).

    For object fields such as an event's ``props``: a string there would
    otherwise be read as "no properties" and its content lost unseen.

    Example
    -------
    >>> reject_non_objects(ctx, "props")  # doctest: +SKIP
    """
    if not ctx.has(fld):
        return
    col = ctx.cols[fld]
    if ctx.raw.arrow is not None and col in ctx.raw.arrow.column_names:
        arr = ctx.raw.arrow.column(col)
        if pa.types.is_struct(arr.type) or pa.types.is_null(arr.type):
            return
        values = pd.Series(arr.to_pylist(), index=ctx.index, dtype=object)
    else:
        values = pd.Series(ctx.raw.pylist(col), index=ctx.index, dtype=object)
    bad = values.notna() & ~values.map(lambda v: isinstance(v, dict))
    raw = values.where(bad).map(_raw, na_action="ignore").astype("str")
    ctx.reject(bad, fld, "not an object", raw)


def _pylist(values: Any) -> list:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return values.to_pylist()
    return list(values)


def _fast_cast(values: Any, target: pa.DataType) -> pa.ListArray | None:
    """The Arrow column cast to ``target`` when every value fits; None to check row by row."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        return None
    if pa.types.is_null(values.type):
        return pa.nulls(len(values), type=target)
    if pa.types.is_large_list(values.type):
        values = values.cast(pa.list_(values.type.value_type))
    if not pa.types.is_list(values.type):
        return None
    value_type = values.type.value_type
    # A struct cast matches fields by name; scalars only between scalar kinds, so a
    # nested value where a scalar belongs is left to the row-by-row check.
    if pa.types.is_struct(target.value_type) != pa.types.is_struct(value_type) and not (
        pa.types.is_null(value_type)
    ):
        return None
    try:
        out = values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    return out


def _python_check(pylist: list, item: pa.DataType, name: str) -> tuple[pa.ListArray, list]:
    # Row by row on purpose: this runs only when Arrow could not give the column
    # one type, i.e. some record is malformed, and each must be named with its reason.
    conform = _converter(item, name)
    clean: list = []
    problems: list = []
    for pos, value in enumerate(pylist):
        if value is None:
            clean.append(None)
            continue
        if not isinstance(value, list):
            problems.append((pos, name, "not a list", _raw(value)))
            clean.append(None)
            continue
        found: list = []
        items = [conform(v, found) for v in value]
        if found:
            problems.extend((pos, col, reason, raw) for col, reason, raw in found)
            clean.append(None)
        else:
            clean.append(items)
    return pa.array(clean, type=pa.list_(item)), problems


def _conform(value: Any, typ: pa.DataType, path: str, found: list) -> Any:
    """``value`` shaped to ``typ`` (numbers as text, digit strings as integers); misfits noted."""
    return _converter(typ, path)(value, found)


def _converter(typ: pa.DataType, path: str) -> Callable[[Any, list], Any]:
    """A function shaping one value to ``typ`` (see :func:`_conform`), misfits noted in ``found``.

    The type is inspected once here rather than for every value: a file that
    takes this path has a list per record and a struct per item.
    """
    if pa.types.is_struct(typ):
        fields = [(f.name, _converter(f.type, f"{path}.{f.name}")) for f in typ]

        def struct(value: Any, found: list) -> Any:
            if value is None:
                return None
            if not isinstance(value, dict):
                found.append((path, "not an object", _raw(value)))
                return None
            get = value.get
            return {k: conv(get(k), found) for k, conv in fields}

        return struct
    if pa.types.is_list(typ):
        each = _converter(typ.value_type, path)

        def listed(value: Any, found: list) -> Any:
            if value is None:
                return None
            if not isinstance(value, list):
                found.append((path, "not a list", _raw(value)))
                return None
            return [each(v, found) for v in value]

        return listed
    if pa.types.is_integer(typ):

        def integer(value: Any, found: list) -> Any:
            if value is None:
                return None
            if isinstance(value, bool):
                found.append((path, "not a whole number", _raw(value)))
                return None
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return int(value.strip())
            found.append((path, "not a whole number", _raw(value)))
            return None

        return integer
    if pa.types.is_floating(typ):

        def floating(value: Any, found: list) -> Any:
            if value is None:
                return None
            if not isinstance(value, bool) and isinstance(value, int | float | str):
                try:
                    return float(value)
                except ValueError:
                    pass
            found.append((path, "not a number", _raw(value)))
            return None

        return floating
    if pa.types.is_string(typ):

        def text(value: Any, found: list) -> Any:
            if value is None or isinstance(value, str):
                return value
            if isinstance(value, int | float) and not isinstance(value, bool):
                return _raw(value)
            found.append((path, "not text", _raw(value)))
            return None

        return text
    return lambda value, found: value


def _missing_required(
    arr: pa.ListArray, item: pa.DataType, name: str, required: Sequence[str]
) -> list:
    """Problems for null elements of a struct list and for elements lacking a required field."""
    if not pa.types.is_struct(item) or not len(arr):
        return []
    parents = pc.list_parent_indices(arr).to_numpy()
    values = pc.list_flatten(arr)
    out = []
    null_item = values.is_null().to_numpy(zero_copy_only=False)
    for pos in parents[null_item]:
        out.append((int(pos), name, "not an object", "null"))
    for fld in required:
        child = values.field(fld)
        missing = np.flatnonzero(child.is_null().to_numpy(zero_copy_only=False) & ~null_item)
        # the raw value shown is the item that lacks the key
        items = to_json(values.take(pa.array(missing, type=pa.int64())).to_pylist())
        seen: set[int] = set()
        for pos, raw in zip(parents[missing], items, strict=True):
            if int(pos) not in seen:
                seen.add(int(pos))
                out.append((int(pos), f"{name}.{fld}", "missing value", raw))
    return out


def _raw(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
