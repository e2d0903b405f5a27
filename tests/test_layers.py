"""The import structure of ``receiver``: no cycles between its top-level parts, layers only import downward.

The graph is grimp's, which counts every import statement: module-level ones, those inside
functions and those under ``if TYPE_CHECKING:``. A cycle hidden behind a lazy or type-only
import is still a cycle (the two parts cannot be understood, tested or moved apart), so it
fails here like any other.

The layer contract, top to bottom (a part may import its own layer and any layer below):

- entry points: ``cli`` (one module per command group) and ``daemon`` (``serve`` under uvicorn,
  its HTTP limits, the ``startup`` preflight, the multi-process ``supervisor``).
- the app: ``app`` (Starlette routes and lifespan) and what it mounts (``web``, ``reload``);
  they are handed the parts they use, never the app.
- ``runtime``: the running daemon's parts (store, router, sinks, dispatcher, clock).
- stages: ``ingest`` (the request path), ``delivery`` (the dispatcher), ``polling`` (runs followed
  by asking), ``pruner`` (retention)
  and the operations the web and CLI share (``renormalize``, ``retrying``, ``status``).
  ``delivery`` sits here and not below the store, as the data-flow diagram reads: the
  dispatcher drives the store (claims, records) and the rules (``emit:`` routes derived
  events), so it imports both.
- ``config``: compiles the config file, i.e. builds sources (verify schemes, adapters), checks
  sink options, run options (``git:``, ``baseline:``) and storage settings, so it sits above
  all of those, not at the very bottom.
- ``runs``: run tracking (finds the run, enriches the event, then plans it).
- ``rules``: rule files (``load``, ``model``), conditions and operators, the index, RE2
  regexes, ``templates`` (rendering actions) and ``plan`` (planned deliveries, each action
  checked against its sink).
- ``sinks``: destinations, their retry classification and redaction; a sink that starts a run
  checks the platform it names against the adapters, so sinks sit above sources.
- ``sources`` and ``verify``: adapters and signature schemes.
- ``events``: the envelope and ``new_event``, which makes the store's row of every new event
  (a webhook's, a renormalized one, an action's answer), so it sits just above the store.
- ``store``: the event, delivery and run tables.
- the bottom: ``errors``, ``secret`` (what is secret, URL redaction), ``ids``, ``jsonutil``,
  ``templating`` (the one Jinja environment), ``yamlfile``, ``logfmt``, ``metrics`` — they
  import nothing of ``receiver`` above them.
"""

from __future__ import annotations

from collections import defaultdict

import grimp
import pytest

PACKAGE = "receiver"

LAYERS: list[tuple[str, set[str]]] = [
    ("entry points", {"__main__", "cli", "daemon"}),
    ("app", {"app", "web", "reload"}),
    ("runtime", {"runtime"}),
    ("stages", {"ingest", "delivery", "polling", "pruner", "renormalize", "retrying", "status"}),
    ("config", {"config", "lazy_secrets"}),
    ("runs", {"runs"}),
    ("rules", {"rules"}),
    ("sinks", {"sinks"}),
    ("sources/verify", {"sources", "verify"}),
    ("events", {"events"}),
    ("store", {"store"}),
    ("bottom", {"errors", "secret", "ids", "jsonutil", "templating", "yamlfile", "logfmt", "metrics", PACKAGE}),
]  # fmt: skip


def _part(module: str) -> str:
    """``receiver.store.sqlite`` -> ``store``; the package itself is ``receiver``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else PACKAGE


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, cache_dir=None)  # type-only and function-local imports included


@pytest.fixture(scope="module")
def imports(graph: grimp.ImportGraph) -> dict[tuple[str, str], list[str]]:
    """(importing part, imported part) -> the import lines, for every import between two parts."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = _part(module), _part(imported)
            if a != b:
                for d in graph.get_import_details(importer=module, imported=imported):
                    found[(a, b)].append(f"{d['importer']}:{d['line_number']}: {d['line_contents']}")
    return found


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected parts with more than one member (Tarjan), each sorted."""
    succ: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        succ[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(succ[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted({x for edge in edges for x in edge}):
        if v not in index:
            visit(v)
    return sorted(found)


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        (set(), []),
        ({("a", "b"), ("b", "c")}, []),
        ({("a", "b"), ("b", "a")}, [["a", "b"]]),
        ({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}, [["a", "b", "c"]]),
        ({("a", "b"), ("b", "a"), ("c", "d"), ("d", "c")}, [["a", "b"], ["c", "d"]]),
    ],
)
def test_cycle_finder(edges: set[tuple[str, str]], expected: list[list[str]]) -> None:
    assert cycles(edges) == expected


def test_no_import_cycles_between_parts(imports: dict[tuple[str, str], list[str]]) -> None:
    found = cycles(set(imports))
    lines = [
        f"cycle {' <-> '.join(c)}:\n    " + "\n    ".join(line for (a, b), ls in sorted(imports.items())
                                                      if a in c and b in c for line in ls)
        for c in found
    ]  # fmt: skip
    assert not found, "\n".join(lines)


def test_no_import_cycles_between_modules(graph: grimp.ImportGraph) -> None:
    """Inside a part too (``store.base`` and ``store.runs``, ``web.api`` and ``web.openapi``):
    two modules that need each other are one module, or a third one is missing."""
    edges = {(m, i) for m in graph.modules for i in graph.find_modules_directly_imported_by(m)}
    assert cycles(edges) == []


def test_every_part_has_a_layer(imports: dict[tuple[str, str], list[str]]) -> None:
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    placed = {p for _, parts in LAYERS for p in parts}
    unplaced = sorted({_part(m) for m in graph.modules} - placed)
    assert not unplaced, f"place these in LAYERS (tests/test_layers.py): {unplaced}"


def test_layers_only_import_downward(imports: dict[tuple[str, str], list[str]]) -> None:
    level = {p: i for i, (_, parts) in enumerate(LAYERS) for p in parts}
    upward = [
        f"{LAYERS[level[a]][0]} -> {LAYERS[level[b]][0]}: {line}"
        for (a, b), ls in sorted(imports.items())
        if a in level and b in level and level[b] < level[a]
        for line in ls
    ]
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)
