"""The facade: each capability's ``__all__``, re-exported, typed and documented."""

from __future__ import annotations

import inspect
import subprocess
import sys
from importlib import import_module

import pytest

import scrm_lib


def test_facade_is_the_union_of_the_capabilities():
    union = [n for c in scrm_lib.CAPABILITIES for n in import_module(f"scrm_lib.{c}").__all__]
    assert len(union) == len(set(union)), "a public name is declared by two capabilities"
    assert set(union) <= set(scrm_lib.__all__)


@pytest.mark.parametrize("name", [n for n in scrm_lib.__all__ if not n.startswith("_")])
def test_every_public_name_resolves_typed_and_documented(name):
    obj = getattr(scrm_lib, name)
    if inspect.isfunction(obj):
        assert inspect.getdoc(obj), f"{name} has no docstring"
        hints = inspect.signature(obj)
        assert hints.return_annotation is not inspect.Signature.empty, f"{name}: no return type"
        untyped = [
            p.name
            for p in hints.parameters.values()
            if p.annotation is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
        ]
        assert not untyped, f"{name}: untyped parameters {untyped}"


def test_a_capability_name_is_its_function_even_where_a_module_has_that_name():
    import scrm_lib.value.rfm

    assert inspect.isfunction(scrm_lib.rfm)


def test_import_stays_light():
    code = "import sys, scrm_lib; print(sorted({'pandas', 'ibis', 'duckdb'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
