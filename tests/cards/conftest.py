"""Load this directory's helpers under unique module names (test dirs have no __init__.py, so plain
``import samples`` could pick up a same-named helper of another test directory)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(module_name: str, path: Path) -> None:
    if module_name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)


_load("cards_samples", HERE.parent / "samples.py")  # shared with the workflow's unit tests
_load("cards_golden", HERE / "golden.py")
