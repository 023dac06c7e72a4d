"""The layout shows the flow: packages by stage, imports running one way, no cycle.

Every import counts — at module level or inside a function (a lazy import that only
hides a cycle is still a cycle); only `if TYPE_CHECKING:` blocks are left out, since
they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HUB = ROOT / "hub"

# Lower ranks are imported by higher ones, never the other way; equal ranks do not
# import each other. The flow: cli/serve → feedback → send → plan → sync → workspace →
# store/config → contracts → the loose foundation modules.
RANKS = {
    "hub": 0, "hub.errors": 0, "hub.hookspecs": 0, "hub.clock": 0, "hub.money": 0,
    "hub.logs": 0, "hub.__main__": 99,
    "hub.contracts": 1,
    "hub.config": 2,
    "hub.store": 3,
    "hub.law": 3,
    "hub.workspace": 4,
    "hub.testing": 5,
    "hub.sync": 6,
    "hub.plan": 7,
    "hub.send": 8,
    "hub.feedback": 9,
    "hub.reports": 10,
    "hub.web": 11,
    "hub.serve": 12,
    "hub.demo": 13,
    "hub.cli": 14,
}
MAX_LOOSE = 10
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit(module: str) -> str:
    """The package (or loose module) a module belongs to, as RANKS names them."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(path: Path) -> set[str]:
    """Every hub module `path` imports (outside `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("hub"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith("hub"):
                for alias in node.names:  # `from hub.send import outbox` imports a module
                    candidate = f"{base}.{alias.name}"
                    found.add(candidate if _exists(candidate) else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(me)
    return found


def _exists(module: str) -> bool:
    path = ROOT / Path(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def hub_modules() -> dict[str, Path]:
    return {module_name(p): p for p in HUB.rglob("*.py") if "migrations" not in p.parts}


def test_hub_top_level_is_packages_and_a_few_loose_modules():
    loose = sorted(p.name for p in HUB.glob("*.py"))
    assert len(loose) <= MAX_LOOSE, loose
    for module in hub_modules():
        assert unit(module) in RANKS, f"{module}: add its package to RANKS with its place in the flow"


def test_imports_run_one_way():
    wrong = []
    for module, path in hub_modules().items():
        mine = unit(module)
        for target in imports_of(path):
            theirs = unit(target)
            if theirs == mine or theirs not in RANKS:
                continue
            if RANKS[theirs] >= RANKS[mine]:
                wrong.append(f"{module} imports {target} ({mine} must not depend on {theirs})")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycle():
    graph = {m: {t for t in imports_of(p) if t in hub_modules()} for m, p in hub_modules().items()}
    # Tarjan's strongly connected components: any component of two or more is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            connect(v)
    assert not cycles, cycles


@pytest.mark.parametrize("folder", ["hub", "plugins"])
def test_no_module_over_400_lines(folder):
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / folder).rglob("*.py")
            if "migrations" not in p.parts
            and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, long


def test_plugins_import_only_the_public_contract():
    allowed = ("hub.contracts", "hub.errors", "hub.hookspecs")
    wrong = []
    for path in [*(ROOT / "plugins").rglob("*.py"), *(ROOT / "docs" / "examples").rglob("*.py")]:
        if "tests" in path.parts:
            continue
        for target in imports_of(path):
            if not target.startswith(allowed):
                wrong.append(f"{path.relative_to(ROOT)} imports {target}")
    assert not wrong, "\n".join(wrong)
