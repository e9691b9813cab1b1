"""Parsing on a Spark cluster's executors, into the parse cache.

A Spark build parses its files where its work runs: one task per file not yet in
the parse cache, each parsed by the same adapters (:func:`scrm_lib.ingest.parse_file`)
on an executor and stored in the cache folder. The build then stages every file
from the cache as it always does (:mod:`scrm_lib.warehouse.stage`): nothing of a
file passes through the driver but its summary. On a cluster of several machines
the cache folder, like the warehouse folder, must be a path every executor sees.

Only files whose preset is known (the raw area files them in a folder named after
it) can be found in the cache again, so only those go to the executors; a file
that fails there is parsed again by the driver, which reports it as usual.

Example
-------
>>> done = parse_on_executors(jobs, settings=settings, session=spark)  # doctest: +SKIP
>>> done  # files parsed on the executors  # doctest: +SKIP
12
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from scrm_lib.ingest.cache import Entry, Job, parse_one

logger = logging.getLogger(__name__)

#: What each task reports back: the file, whether it was parsed there (not found in
#: the cache) and, when it could not be parsed, why.
RESULT_SCHEMA = "path string, parsed boolean, problem string"


def parse_on_executors(jobs: Sequence[Job], *, settings: Any, session: Any) -> int:
    """Parse the files of ``jobs`` that are not in ``settings.cache_dir`` yet on the
    executors of Spark session ``session``; return how many were parsed there.

    Each task looks its file up in the cache first: the executors hash the files, in
    parallel, rather than the driver once here and again when it stages them.
    """
    if settings.cache_dir is None:
        return 0
    todo = [(str(job.path), job.preset) for job in jobs if job.preset is not None]
    if not todo:
        return 0
    frame = session.createDataFrame(todo, "path string, preset string")
    # one file per task: a file is the unit an adapter reads
    results = (
        frame.repartition(len(todo)).mapInPandas(_parse_batches(settings), RESULT_SCHEMA).collect()
    )
    for row in results:
        if row.problem:
            logger.info("%s: not parsed on an executor (%s)", row.path, row.problem)
    return sum(1 for row in results if row.parsed)


def _parse_batches(settings: Any) -> Any:
    # A plain function of the settings: Spark pickles it to the executors.
    def parse(batches: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd

        for batch in batches:
            problems, parsed = [], []
            for path, preset in zip(batch["path"], batch["preset"], strict=True):
                entry = parse_one(
                    Job(Path(path), preset),
                    parse=None,
                    settings=settings,
                    cache_dir=settings.cache_dir,
                    keep=False,
                )
                stored = isinstance(entry, Entry) and entry.folder is not None
                problems.append(None if stored else getattr(entry, "message", "not stored"))
                parsed.append(stored and not entry.cached)
            yield pd.DataFrame({"path": list(batch["path"]), "parsed": parsed, "problem": problems})

    return parse


__all__ = ["RESULT_SCHEMA", "parse_on_executors"]
