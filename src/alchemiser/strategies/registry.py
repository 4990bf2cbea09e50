"""Finds a strategy by reference: a built-in name, a symphony file path, or `module:Class` for Python."""

from __future__ import annotations

import importlib
import importlib.resources
import importlib.util
import sys
from pathlib import Path

from alchemiser.errors import StrategyError
from alchemiser.strategies.base import Strategy
from alchemiser.strategies.symphony_strategy import SymphonyStrategy

BUILTINS: dict[str, str] = {
    "nuclear": "nuclear.clj",
    "tecl": "tecl.clj",
    "klm": "klm.clj",
}


def builtin_path(name: str) -> Path:
    resource = importlib.resources.files("alchemiser.strategies") / "builtin" / BUILTINS[name]
    return Path(str(resource))


def _load_python(ref: str) -> Strategy:
    module_name, _, class_name = ref.rpartition(":")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            spec = importlib.util.spec_from_file_location(path.stem, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[path.stem] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
    except (ImportError, AttributeError, OSError) as exc:
        raise StrategyError(f"cannot load Python strategy {ref!r}: {exc}") from None
    strategy = cls()
    if not isinstance(strategy, Strategy):
        raise StrategyError(f"{ref!r} is not a strategy: it needs name, universe(), decide() and evaluate_all()")
    return strategy


def load_strategy(ref: str, name: str | None = None) -> Strategy:
    """`nuclear` / `tecl` / `klm`, a `.clj` export or `.json` score, or `package.module:Class` / `file.py:Class`."""
    key = ref.strip()
    if key.lower() in BUILTINS:
        return SymphonyStrategy.from_file(builtin_path(key.lower()), name or key.lower())
    path = Path(key).expanduser()
    if path.suffix.lower() in (".clj", ".edn", ".txt", ".json") or path.is_file():
        if not path.is_file():
            raise StrategyError(f"strategy file not found: {path}")
        return SymphonyStrategy.from_file(path, name or path.stem)
    if ":" in key:
        strategy = _load_python(key)
        if name:
            strategy.name = name
        return strategy
    known = ", ".join(BUILTINS)
    raise StrategyError(f"unknown strategy {ref!r}: use a built-in ({known}), a .clj or .json file, or module:Class")
