"""Dependencies run one way (docs/architecture.md): shell `bot/` → application `handlers/` → presentation `cards/`
→ pure core `core/`. Read from the source's syntax tree, imports under TYPE_CHECKING and inside functions
included, so a shortcut cannot hide in a function body."""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("layering_scan")  # one worker parses the tree, once (_modules, _imports)
ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "cards", "handlers", "bot", "sandbox")
# What each package may import from the project (besides itself). Third-party packages: see THIRD_PARTY.
MAY_IMPORT = {
    "core": set(),
    "cards": {"core"},
    "handlers": {"cards", "core"},
    "bot": {"core", "cards"},  # the shell reads cards for texts; it never reaches up into handlers
    "sandbox": set(),  # an independent emulator: it knows nothing of the bot
}
COMPOSITION_ROOTS = {"bot/app.py": {"handlers"}, "bot/cli.py": {"handlers", "sandbox"}}
THIRD_PARTY_BANNED = {
    "core": {"flask", "sqlite3", "psycopg", "lark_oapi", "jinja2", "requests", "werkzeug", "prometheus_client"},
    "cards": {"flask", "sqlite3", "psycopg", "lark_oapi", "requests", "werkzeug"},
    "handlers": {"flask", "sqlite3", "psycopg", "lark_oapi", "requests", "werkzeug", "prometheus_client"},
}


@functools.cache  # read on first use, not at collection: every xdist worker collects this file
def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            found[".".join(parts)] = path
    return found


@functools.cache  # three tests read every module's imports: parse each file once
def _imports(path: Path, module: str) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            # `from pkg import module` depends on that module's file; `from pkg import name`, on pkg's.
            submodules = {f"{base}.{alias.name}" for alias in node.names} & _modules().keys()
            names.update(submodules or {base})
            if len(submodules) < len(node.names):
                names.add(base)
    return frozenset(names)


@functools.cache
def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: {i for i in _imports(path, name) if i in modules and i != name} for name, path in modules.items()}


def test_packages_import_only_downwards():
    wrong = []
    for name, targets in _graph().items():
        package = name.split(".")[0]
        rel = str(_modules()[name].relative_to(ROOT))
        allowed = {package} | MAY_IMPORT[package] | COMPOSITION_ROOTS.get(rel, set())
        wrong += [f"{rel} imports {t}" for t in sorted(targets) if t.split(".")[0] not in allowed]
    assert wrong == []


def test_lower_layers_do_not_import_heavy_libraries():
    wrong = []
    for name, path in _modules().items():
        banned = THIRD_PARTY_BANNED.get(name.split(".")[0], set())
        wrong += [f"{name} imports {i}" for i in sorted(_imports(path, name)) if i.split(".")[0] in banned]
    assert wrong == []


def find_cycles(graph: dict[str, set[str]]) -> list[str]:
    cycles, state = [], defaultdict(int)  # 0 new, 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state[target] == 1:
                cycles.append(" -> ".join([*stack[stack.index(target):], node, target] if target in stack
                                          else [node, target]))
            elif state[target] == 0:
                visit(target, [*stack, node])
        state[node] = 2

    for name in sorted(graph):
        if state[name] == 0:
            visit(name, [])
    return cycles


def test_no_import_cycles_between_files():
    assert find_cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a -> b -> c -> a"]


def test_only_the_gateway_and_the_long_connection_import_lark_oapi():
    importers = sorted(str(path.relative_to(ROOT)) for name, path in _modules().items()
                       if any(i.split(".")[0] == "lark_oapi" for i in _imports(path, name)))
    assert importers == ["bot/feishu.py", "bot/longconn.py"]


def test_importing_the_application_does_not_load_the_sdk():
    code = ("import sys; import core.rules, core.approval, core.inbound, cards, handlers, handlers.pipeline, "
            "bot.config, bot.security; "
            "print(sorted(m for m in ('lark_oapi', 'flask', 'sqlite3', 'psycopg') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_layering_check_sees_a_wrong_import(tmp_path):
    """The checks above are only worth something if they see a violation: plant one and look."""
    bad = tmp_path / "bad.py"
    bad.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.store import Store\n"
                   "def f():\n    from handlers import pipeline\n", encoding="utf-8")
    assert {"bot.store", "handlers.pipeline"} <= _imports(bad, "core.bad")
