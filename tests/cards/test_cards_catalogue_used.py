"""Every text in the catalogue is one the code can show, and every key the code spells out is in the catalogue:
dead texts cannot pile up, and a typo in a key fails here instead of in a manager's chat."""

from __future__ import annotations

import ast
import functools
import re
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

import cards
from cards import views, widgets
from cards.environment import catalogue
from cards.messages import KNOWN_CODES
from core import records
from core.rules import Action, ApprovalType, InstanceStatus
from handlers import registry

pytestmark = pytest.mark.xdist_group("catalogue_scan")  # one worker reads the tree, once (_scan)
ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "bot", "handlers", "cards", "sandbox")
KEY = re.compile(r"[a-z_]+(?:\.[A-Za-z0-9_]+)+")
ANY = None  # a part the code takes from Feishu's data as it comes


@functools.cache
def _scan() -> tuple[frozenset[str], frozenset[str]]:
    """The string literals of the code and the templates, and the shapes of the f-strings ("type.{…}" reads
    "type.*"); one walk over every module (parsing them all takes a while)."""
    spelled: set[str] = set()
    shapes: set[str] = set()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts: set[int] = set()  # the "type." of f"type.{t}" is no key of its own
            nodes = list(ast.walk(ast.parse(path.read_text(encoding="utf-8"))))
            for node in nodes:
                if isinstance(node, ast.JoinedStr):
                    parts.update(id(v) for v in node.values)
                    shapes.add("".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values))
            spelled.update(node.value for node in nodes if isinstance(node, ast.Constant)
                           and isinstance(node.value, str) and id(node) not in parts)
    for template in (ROOT / "cards" / "templates").glob("*.j2"):
        spelled.update(re.findall(r"[\"']([^\"'{}]+)[\"']", template.read_text(encoding="utf-8")))
    return frozenset(spelled), frozenset(shapes)


def _spelled() -> frozenset[str]:
    return _scan()[0]


def _built_keys() -> set[str]:
    """The key shapes the code builds with an f-string."""
    sections = {key.split(".")[0] for key in catalogue("en_us")}
    return {shape for shape in _scan()[1]
            if re.fullmatch(r"[a-z_]+(?:\.[A-Za-z0-9_*]+)+", shape) and shape.split(".")[0] in sections}


def _dynamic(spelled: frozenset[str]) -> dict[str, set[str] | None]:
    """What the code can put in for the `*` of each key it builds (ANY: whatever Feishu sends)."""
    actions = {a.value for a in Action}
    results = {outcome for outcome, _ in views._RESULT_COLOURS}
    commands = set(registry().commands)
    return {
        "action.*": actions, "button.*": actions,
        "confirm.*.title": {a.value for a in views._CONFIRMED}, "confirm.*.text": {a.value for a in views._CONFIRMED},
        "command.*.summary": commands, "command.*.usage": commands,
        "type.*": {t.value for t in ApprovalType}, "status.*": {s.value for s in InstanceStatus},
        "error.feishu.*": {str(code) for code in KNOWN_CODES},
        "history.result.*": results | {records.NOT_REPLAYABLE},  # audit outcomes
        "summary.count.*": results, "summary.outcome.*": results,
        # half hours are shown as hours (widgets.format_interval)
        "unit.*": (set(widgets._UNITS.values()) | set(widgets._PLURAL_KEYS.values())) - {"half_hour"},
        "refusal.*": spelled,  # Refused("<reason>") in core/ and handlers/
        "names.unknown_*": spelled,
        "timeline.*": ANY, "timeline_unattributed.*": ANY,  # Feishu's timeline entry types, shown as they come
        # cards.widgets._choice_text(value, known, area): f"{area}.{known[value]}"
        "transport.*": set(widgets._TRANSPORT.values()), "one_round.*": set(widgets._ONE_ROUND.values()),
    }


def test_every_key_the_code_builds_says_what_it_can_be() -> None:
    undeclared = _built_keys() - set(_dynamic(frozenset()))
    assert not undeclared, f"say in _dynamic() what the code can put in for the * of {sorted(undeclared)}"


def test_every_text_in_the_catalogue_is_used() -> None:
    spelled = _spelled()
    dynamic = _dynamic(spelled)

    def used(key: str) -> bool:
        if key in spelled:
            return True
        if key.endswith("_one") and used(key.removesuffix("_one")):  # widgets.plural: "<key>_one" for one
            return True
        for shape, values in dynamic.items():
            if fnmatchcase(key, shape):
                head, _, tail = shape.partition("*")
                part = key[len(head):len(key) - len(tail)]
                if values is ANY or part in values:
                    return True
        return False

    for locale in cards.LOCALES:
        unused = sorted(key for key in catalogue(locale) if not used(key))
        assert not unused, f"{locale}: texts no code shows (remove them from cards/locales): {unused}"


def test_every_key_the_code_spells_is_in_the_catalogue() -> None:
    sections = {key.split(".")[0] for key in catalogue("en_us")}
    spelled = {s for s in _spelled() if KEY.fullmatch(s) and s.split(".")[0] in sections}
    assert len(spelled) > 50  # the scan finds the code's keys at all
    for locale in cards.LOCALES:
        missing = sorted(spelled - set(catalogue(locale)))
        assert not missing, f"{locale}: keys the code uses that the catalogue lacks: {missing}"


def test_every_key_the_code_builds_from_a_closed_set_is_in_the_catalogue() -> None:
    optional = {"summary.outcome.*"}  # views.summary_view falls back to the outcome as given
    for shape, values in _dynamic(frozenset()).items():
        if not values or shape in optional or shape.startswith(("refusal.", "names.")):
            continue
        for value in values:
            key = shape.replace("*", value)
            for locale in cards.LOCALES:
                assert key in catalogue(locale), (locale, key)
