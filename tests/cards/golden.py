"""Golden snapshots of rendered cards: compare parsed JSON; ``UPDATE_GOLDEN=1`` rewrites; a missing file fails."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import pytest

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def _dump(card: Any) -> str:
    return json.dumps(card, ensure_ascii=False, indent=1) + "\n"


def assert_golden(name: str, card: Any) -> None:
    path = GOLDEN_DIR / f"{name}.json"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN_DIR.mkdir(exist_ok=True)
        path.write_text(_dump(card), encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"golden file {path.name} is missing: review the card, then run with UPDATE_GOLDEN=1")
    expected = json.loads(path.read_text(encoding="utf-8"))
    if expected != card:
        diff = "".join(difflib.unified_diff(_dump(expected).splitlines(True), _dump(card).splitlines(True),
                                            f"golden/{path.name}", "rendered", n=2))
        pytest.fail(f"card differs from golden/{path.name} (UPDATE_GOLDEN=1 after review):\n{diff[:6000]}")
