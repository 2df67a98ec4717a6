"""Check Podium's import rules: no package cycle, SQL only in store/, an engine without I/O.

Run it from the repository root (``make lint`` does)::

    python tools/check_imports.py            # checks src/podium
    python tools/check_imports.py --root DIR # checks another tree laid out like src/podium

It reads the source with :mod:`ast` (nothing is imported, so it needs only the standard library)
and prints one line per violation, ``file:line: message``, then exits 1; a clean tree exits 0.

The rules:

1. No import cycle between podium's packages. Each subpackage (``definition``, ``expr``,
   ``store``, ``engine``, ``worker`` ...) is one node, and each top-level module (``config``,
   ``errors``, ``processes`` ...) is its own node. Every import counts, including ones inside a
   function or under ``TYPE_CHECKING``: a lazy import hides a cycle, it does not remove it.
2. ``sqlalchemy`` is imported only under ``store/``, apart from :data:`SQLALCHEMY_ALLOWED`.
3. ``engine/`` holds pure decisions: it imports nothing in :data:`ENGINE_DENIED`.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

PACKAGE = "podium"

SQLALCHEMY_ALLOWED: frozenset[str] = frozenset(
    {
        # The `sql` job template runs the user's own SQL against the user's own database, in the
        # job's process: that is the job's work, not Podium's state, so it is not store/'s.
        "job_templates/sql/run.py",
    }
)
"""Files outside ``store/`` that may import ``sqlalchemy``, relative to the package root."""

ENGINE_DENIED: tuple[str, ...] = (
    # databases, processes, the network, threads
    "sqlalchemy",
    "psycopg",
    "psycopg2",
    "subprocess",
    "socket",
    "httpx",
    "threading",
    # podium's own layers that do I/O
    "podium.store",
    "podium.jobs",
    "podium.worker",
    "podium.api",
    "podium.cli",
    "podium.control",
    "podium.triggers",
    "podium.events",
    "podium.processes",
)
"""Modules (and their submodules) that ``engine/`` must not import."""


@dataclass(frozen=True)
class Import:
    """One imported module name, where it was written."""

    file: Path
    line: int
    module: str


@dataclass(frozen=True)
class Violation:
    file: Path
    line: int
    message: str

    def render(self, base: Path) -> str:
        try:
            shown = self.file.relative_to(base)
        except ValueError:
            shown = self.file
        return f"{shown}:{self.line}: {self.message}"


def module_name(root: Path, file: Path) -> str:
    """``root/store/runs.py`` -> ``podium.store.runs``; a package's ``__init__`` is the package."""
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def imports_of(root: Path, file: Path) -> Iterator[Import]:
    """Every module ``file`` imports, absolute; ``from a import b`` yields ``a.b`` too."""
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    here = module_name(root, file)
    is_package = file.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(file, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(here, is_package, node.module, node.level)
            yield Import(file, node.lineno, base)
            for alias in node.names:
                if alias.name != "*":
                    yield Import(file, node.lineno, f"{base}.{alias.name}")


def _absolute(here: str, is_package: bool, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    parts = here.split(".")
    if not is_package:
        parts.pop()
    if level > 1:
        parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, module] if module else parts)


def node_of(root: Path, module: str) -> str | None:
    """The graph node a podium module belongs to: its subpackage or top-level module name.

    ``None`` for modules outside podium, and for names that are not a module of the tree
    (``from podium.store import Connection`` yields ``podium.store.Connection``: its node is
    still ``store``; only the package root itself, ``podium``, has no node).
    """
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        return None
    first = parts[1]
    if (root / first).is_dir() or (root / f"{first}.py").is_file():
        return first
    return None


def _is_under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def check_rules(root: Path, imports: Sequence[Import]) -> list[Violation]:
    """Rules 2 and 3: where ``sqlalchemy`` may be imported, and what ``engine/`` may import."""
    found: list[Violation] = []
    seen: set[tuple[Path, int, str]] = set()
    for imp in imports:
        rel = imp.file.relative_to(root).as_posix()
        if (
            _is_under(imp.module, "sqlalchemy")
            and not rel.startswith("store/")
            and rel not in SQLALCHEMY_ALLOWED
        ):
            key = (imp.file, imp.line, "sqlalchemy")
            if key not in seen:
                seen.add(key)
                found.append(
                    Violation(
                        imp.file,
                        imp.line,
                        "imports sqlalchemy outside podium/store/: move the SQL into a store/ "
                        "function (types: `from podium.store import Connection, Row`)",
                    )
                )
        if rel.startswith("engine/"):
            for denied in ENGINE_DENIED:
                key = (imp.file, imp.line, denied)
                if _is_under(imp.module, denied) and key not in seen:
                    seen.add(key)
                    found.append(
                        Violation(
                            imp.file,
                            imp.line,
                            f"podium/engine/ imports {denied}: the engine holds pure decisions; "
                            "do the I/O in the caller and pass the result in",
                        )
                    )
    return found


def package_edges(root: Path, imports: Sequence[Import]) -> dict[tuple[str, str], Import]:
    """Each edge between two different nodes, with the first import that makes it."""
    edges: dict[tuple[str, str], Import] = {}
    for imp in imports:
        source = node_of(root, module_name(root, imp.file))
        target = node_of(root, imp.module)
        if source is None or target is None or source == target:
            continue
        edges.setdefault((source, target), imp)
    return edges


def find_cycles(edges: dict[tuple[str, str], Import]) -> list[list[str]]:
    """The cycles between nodes, each as ``[a, b, ..., a]`` starting at its smallest name.

    For every edge inside a strongly connected group, the shortest cycle through that edge:
    together they cover every edge that takes part in a cycle, so fixing each one printed
    removes every cycle, without listing the (exponentially many) longer combinations.
    """
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    cycles: set[tuple[str, ...]] = set()
    for group in _strongly_connected(graph):
        if len(group) < 2:
            continue
        for source in sorted(group):
            for target in sorted(graph[source] & group):
                back = _shortest_path(graph, group, target, source)
                cycles.add(_rotated([source, *back]))
    return [[*cycle, cycle[0]] for cycle in sorted(cycles, key=lambda c: (len(c), c))]


def _rotated(cycle: list[str]) -> tuple[str, ...]:
    first = cycle.index(min(cycle))
    return tuple(cycle[first:] + cycle[:first])


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (the graph is small, but recursion limits are not ours)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for origin in sorted(graph):
        if origin in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(origin, iter(sorted(graph[origin])))]
        index[origin] = low[origin] = len(index)
        stack.append(origin)
        on_stack.add(origin)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
    return groups


def _shortest_path(graph: dict[str, set[str]], group: set[str], start: str, end: str) -> list[str]:
    """Breadth-first from ``start`` to ``end`` inside ``group``: ``[start, ..., end]`` minus ``end``."""
    previous: dict[str, str] = {start: start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == end:
            break
        for nxt in sorted(graph[node] & group):
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    if end not in previous:
        raise AssertionError(f"{end} is not reachable from {start} inside its group")
    path = [end]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return list(reversed(path))[:-1]


def check(root: Path) -> list[Violation]:
    """Every violation of the three rules in the package tree at ``root`` (``src/podium``)."""
    imports = [imp for file in sorted(root.rglob("*.py")) for imp in imports_of(root, file)]
    found = check_rules(root, imports)
    edges = package_edges(root, imports)
    for cycle in find_cycles(edges):
        pairs = list(pairwise(cycle))
        hops = [edges[pair] for pair in pairs]
        where = "; ".join(
            f"{a} -> {b} at {hop.file.relative_to(root).as_posix()}:{hop.line}"
            for (a, b), hop in zip(pairs, hops, strict=True)
        )
        first = hops[0]
        found.append(
            Violation(
                first.file,
                first.line,
                f"import cycle between packages {' -> '.join(cycle)} ({where}): "
                "move the shared code down into a package both can import",
            )
        )
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "src" / PACKAGE,
        help="the package directory to check (default: src/podium)",
    )
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    if not root.is_dir():
        print(f"check_imports: {root} is not a directory; pass --root src/podium", file=sys.stderr)
        return 2
    violations = check(root)
    base = Path.cwd()
    for violation in violations:
        print(violation.render(base))
    if violations:
        print(f"check_imports: {len(violations)} violation(s)", file=sys.stderr)
        return 1
    print("check_imports: no package cycle, SQL only in store/, engine/ without I/O")
    return 0


if __name__ == "__main__":
    sys.exit(main())
