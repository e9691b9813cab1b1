"""What the runner's hidden setup cell does in a report's kernel before the notebook runs.

Every report kernel is a fresh process, so whatever a kernel pays at import
it pays once per report and per run. :func:`prepare` keeps that cost to what
the notebook uses.

Example
-------
>>> from scrm_lib.reports.kernel import prepare
>>> prepare()  # doctest: +SKIP
True
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from typing import Any

#: plotly figures as data (JupyterLab) and as self-contained HTML (the report page).
#: In a papermill kernel plotly would pick the bare mimetype renderer, which
#: nbconvert's HTML cannot draw; "notebook" adds HTML with plotly.js inlined once,
#: so the page works offline. Set through the environment (read when plotly is
#: first imported) so that a report without charts does not pay for importing plotly.
PLOTLY_RENDERER = "plotly_mimetype+notebook"


def prepare() -> bool:
    """Set up the report kernel: plotly's renderer, deferred IRI grammar, masked tables.

    Returns whether displayed tables are masked (False outside IPython).
    """
    os.environ["PLOTLY_RENDERER"] = PLOTLY_RENDERER
    defer_iri_grammar()
    from scrm_lib.access.privacy import mask_displayed_frames

    return mask_displayed_frames()


def defer_iri_grammar() -> bool:
    """Build ``rfc3987_syntax``'s IRI grammar when an IRI is first checked, not at import.

    plotly's renderers import nbformat (for its version), nbformat imports
    jsonschema, and jsonschema's format checkers import ``rfc3987_syntax``,
    which builds an Earley parser for RFC 3987 at import: about 2 CPU-seconds
    in every kernel that shows a chart, for a check no report makes. The
    module is replaced by one that loads the real one on first use, so an IRI
    check still gives the same answer. Nothing is done when it is imported
    already or not installed. Returns whether the module was deferred.
    """
    name = "rfc3987_syntax"
    if name in sys.modules:
        return False
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        return False

    def real() -> Any:
        # the grammar lives in the submodule; the package only re-exports it
        return importlib.import_module(f"{name}.syntax_helpers")

    def is_valid_syntax(term: str, value: str) -> bool:
        return real().is_valid_syntax(term, value)

    def attribute(attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(real(), attr)

    module = types.ModuleType(name, "RFC 3987 syntax, loaded on first use.")
    module.__path__ = list(spec.submodule_search_locations)
    module.__spec__ = spec
    module.__file__ = spec.origin
    module.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    module.__getattr__ = attribute  # type: ignore[method-assign]
    sys.modules[name] = module
    return True
