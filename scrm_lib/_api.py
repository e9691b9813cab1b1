"""How a package declares its public API: names resolved on first use.

Each capability's ``__init__`` lists its public names once, with the module
that defines each (``"name": ".module"`` or ``".module:attr"`` when the public
name differs), and gets back ``__all__`` and the module hooks of PEP 562.
Nothing is imported until a name is used, so ``import scrm_lib`` and the CLI
stay fast while every public function is one attribute away. The facade
(:mod:`scrm_lib`) re-exports the union of the capabilities' ``__all__``.

Example
-------
>>> __all__, __getattr__, __dir__ = public("scrm_lib.value", {"rfm": ".rfm"})
>>> __all__
['rfm']
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from types import ModuleType
from typing import Any

# package → {public name: (module, attribute)}, filled as packages declare themselves
_TARGETS: dict[str, dict[str, tuple[str, str]]] = {}


def public(
    package: str, names: dict[str, str]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` for ``package`` exporting ``names``."""
    targets = {}
    for name, target in names.items():
        module, _, attr = target.partition(":")
        targets[name] = (package + module if module.startswith(".") else module, attr or name)
    _TARGETS[package] = targets

    def __getattr__(name: str) -> Any:
        if name not in targets:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = resolve(package, name)
        namespace = import_module(package).__dict__
        if isinstance(namespace.get(name), ModuleType):
            # importing the defining module bound its name in the package (rfm, clv,
            # kpis): ``from scrm_lib.value import rfm`` stays that module
            return namespace[name]
        namespace[name] = value  # resolve once
        return value

    def __dir__() -> list[str]:
        return sorted(set(targets) | set(import_module(package).__dict__))

    return list(names), __getattr__, __dir__


def resolve(package: str, name: str) -> Any:
    """The object behind ``package``'s public ``name``, imported from its defining module.

    The facade resolves through here rather than through the package, where a
    submodule of the same name (``scrm_lib.value.rfm``) would shadow a function.
    """
    module, attr = _TARGETS[package][name]
    return getattr(import_module(module), attr)


__all__ = ["public", "resolve"]
