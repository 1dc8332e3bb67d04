"""The import graph: no package imports one above it, no module imports itself through
others, and what knows Socket.IO or Starlette stays above the domain. Every import counts:
at the top of a module, inside a function, and under TYPE_CHECKING."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from tests.support import ROOT

# The layer rule, lowest row first: a module of `slychat` may import its own package and
# the packages of lower rows, nothing else. docs/architecture.md shows the same table.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("domain", "logs", "moderation", "process"),
    ("media", "realtime", "storage"),
    ("config",),
    ("services",),
    ("protocol",),
    ("contracts", "server"),
    ("container",),
    ("sockets",),
    ("routes",),
    ("app",),
    ("cli",),
    ("__main__",),
)
# Libraries that know Socket.IO or HTTP: only these packages may import them.
WEB_LIBRARIES = ("socketio", "engineio", "starlette")
WEB_PACKAGES = frozenset({"server", "sockets", "routes", "app"})

RANK = {package: rank for rank, row in enumerate(LAYERS) for package in row}
SOURCES = {"slychat": ROOT / "src" / "slychat", "bench": ROOT / "bench"}


def _module_name(top: str, path: Path) -> str:
    parts = (top, *path.relative_to(SOURCES[top]).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(top, path): path
        for top, folder in SOURCES.items()
        for path in sorted(folder.rglob("*.py"))
    }


MODULES = _modules()


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in the file, wherever it stands."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package upwards
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # `from pkg import mod` imports the module; `from mod import name` the module
                full = f"{base}.{alias.name}"
                yield (full if full in MODULES else base), node.lineno


GRAPH = {
    module: sorted({(target, line) for target, line in _imports(module, path)})
    for module, path in MODULES.items()
}


def _package(module: str) -> str | None:
    """The layer of a slychat module: its top folder (or app, container, __main__)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "slychat" and len(parts) > 1 else None


def _where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(ROOT)}:{line}"


def test_every_package_has_a_layer() -> None:
    packages = {_package(m) for m in MODULES} - {None}
    assert packages - set(RANK) == set(), "add the new package to LAYERS (and the docs)"
    assert set(RANK) - packages == set(), "LAYERS names a package that is gone"


def test_no_import_runs_up_or_across_the_layers() -> None:
    wrong = []
    for module, imports in GRAPH.items():
        here = _package(module)
        if here is None:
            continue
        for target, line in imports:
            there = _package(target)
            if target.split(".")[0] in ("bench", "tests"):
                wrong.append(f"{_where(module, line)} imports {target}: slychat stands alone")
            elif there is not None and there != here and RANK[there] >= RANK[here]:
                wrong.append(f"{_where(module, line)}: {here} imports {target} ({there})")
    assert wrong == []


def test_only_the_edges_know_socketio_and_starlette() -> None:
    wrong = [
        f"{_where(module, line)}: {_package(module)} imports {target}"
        for module, imports in GRAPH.items()
        if _package(module) not in WEB_PACKAGES and module.startswith("slychat")
        for target, line in imports
        if target.split(".")[0] in WEB_LIBRARIES
    ]
    assert wrong == []


def _cycles() -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    edges = {m: sorted({t for t, _ in imports if t in MODULES}) for m, imports in GRAPH.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges[node]:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_through_others() -> None:
    assert _cycles() == []


def test_the_rules_own_checks_find_what_they_look_for() -> None:
    """The walk sees deferred and TYPE_CHECKING imports, and the cycle search finds one."""
    deferred = dict(GRAPH["slychat.cli.main"])
    assert "slychat.app" in deferred  # imported inside _serve
    type_only = {t for t, _ in GRAPH["slychat.services.auth"]}
    assert "slychat.config.settings" in type_only  # under TYPE_CHECKING
    GRAPH["slychat.domain.ids"].append(("slychat.domain.errors", 0))
    GRAPH["slychat.domain.errors"].append(("slychat.domain.ids", 0))
    try:
        assert ["slychat.domain.errors", "slychat.domain.ids"] in _cycles()
    finally:
        GRAPH["slychat.domain.ids"].pop()
        GRAPH["slychat.domain.errors"].pop()


def test_the_architecture_document_shows_the_same_layers() -> None:
    """docs/architecture.md's table between `<!-- layers -->` marks: `rank  packages  why`."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("<!-- layers -->")[1]
    rows = re.findall(r"^(\d+)\s+([\w, ]+?)\s{2,}\S", table, re.MULTILINE)
    documented = {
        int(rank): tuple(name.strip() for name in names.split(",")) for rank, names in rows
    }
    assert documented == dict(enumerate(LAYERS))
