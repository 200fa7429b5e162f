"""The layering of docs/architecture.md holds: every import of maild is one the table allows, and no module cycle exists."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "maild"
DOC = REPO / "docs" / "architecture.md"


def _table(heading: str) -> list[list[str]]:
    """The rows of the Markdown table under `heading`, each as its cells with backticks removed."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)
    assert len(section) == 2, f"docs/architecture.md has no {heading!r}"
    rows = []
    for line in section[1].splitlines():
        if rows and not line.startswith("|"):
            break
        if line.startswith("|") and not re.fullmatch(r"[|\s:-]+", line):
            rows.append([c.strip().replace("`", "") for c in line.strip().strip("|").split("|")])
    return rows[1:]  # without the header row


def allowed() -> dict[str, set[str]]:
    return {row[0]: {p.strip() for p in row[1].split(",") if p.strip()} for row in _table("## What may import what")}


def faces() -> set[str]:
    return {row[0] for row in _table("Faces, whose imports of `maild.store` must stop at the package itself:")}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def part(module: str) -> str:
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else ""


def imports(module: str) -> Iterator[tuple[str, int]]:
    """Every module of maild this one imports, at module level or inside a function, with its line."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "maild" or alias.name.startswith("maild."):
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target != "maild" and not target.startswith("maild."):
                continue
            for alias in node.names:
                name = f"{target}.{alias.name}"
                yield (name if name in MODULES else target), node.lineno


GRAPH = {m: {t for t, _ in imports(m) if t != m} for m in MODULES}


def test_every_part_of_maild_is_in_the_table() -> None:
    table = allowed()
    unnamed = sorted({part(m) for m in MODULES if part(m)} - set(table))
    assert not unnamed, f"parts of maild/ not in docs/architecture.md's table: {unnamed}; add a row saying what each may import"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if part(m)))
def test_imports_follow_the_table(module: str) -> None:
    rules = allowed().get(part(module))
    if rules is None:
        pytest.fail(f"{part(module)} has no row in docs/architecture.md")
    bad = [
        f"line {line}: {target}"
        for target, line in imports(module)
        if part(target) not in ("", part(module)) and "*" not in rules and part(target) not in rules
    ]
    assert not bad, f"{module} imports what docs/architecture.md does not allow its part ({part(module)}): {bad}"


def test_the_core_imports_nothing_of_maild_but_itself() -> None:
    # Spelled out apart from the table: the core's independence is the layering's anchor.
    bad = [(m, t) for m in MODULES if part(m) == "core" for t in GRAPH[m] if part(t) != "core"]
    assert not bad


def test_faces_never_reach_into_the_store_internals() -> None:
    bad = [(m, t) for m in MODULES if part(m) in faces() for t in GRAPH[m] if t.startswith("maild.store.")]
    assert not bad, f"faces read through maild.queries and open maild.store only: {bad}"


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components: every component of two or more modules is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in graph:
                continue
            if w not in index:
                visit(w)
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
            visit(v)
    return cycles


def test_no_import_cycle_between_modules() -> None:
    assert not find_cycles(GRAPH), f"import cycles: {find_cycles(GRAPH)}"


def test_the_cycle_finder_finds_a_cycle_through_three_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_reader_sees_imports_inside_functions() -> None:
    # The 7-module cycle this test was written against ran through imports inside functions.
    lazy = [t for t, _ in imports("maild.cli.run")]
    assert any(part(t) == "daemon" for t in lazy), "the import reader missed maild.cli.run's import of the daemon"
