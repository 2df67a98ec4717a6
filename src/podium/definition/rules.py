"""Rules that involve several keys: a step's body, the dependency graph, concurrency.

They run on plain data (the YAML as loaded, or a model dumped by alias) and tolerate any
shape, so that a file rejected by the model for one reason still gets its cycles, unknown
dependencies and body mistakes reported in the same answer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from podium.definition.assets import asset_rules
from podium.definition.problems import Loc, Problem, did_you_mean, format_location

STEP_KINDS = ("type", "foreach", "subworkflow")

BODY_KEYS: dict[str, tuple[str, ...]] = {
    "noop": (),
    "sleep": ("seconds",),
    "script": ("script", "file"),
    "python": ("script", "file"),
    "notebook": ("path", "parameters", "notebook", "cell_timeout"),
    "container": ("image", "command", "env", "read_only", "network"),
}
ALL_BODY_KEYS = (
    "seconds",
    "script",
    "file",
    "path",
    "parameters",
    "notebook",
    "cell_timeout",
    "image",
    "command",
    "env",
    "read_only",
    "network",
)
REQUIRED_BODY_KEY = {"sleep": "seconds", "notebook": "path", "container": "image"}


def workflow_rules(data: Any) -> list[Problem]:
    """Every cross-key problem of a whole workflow given as plain data."""
    if not isinstance(data, Mapping):
        return []
    problems = _concurrency_rule(data) + _trigger_rule(data.get("trigger"))
    problems += step_list_rules(data.get("steps"), ("steps",), frozenset())
    return problems


def _concurrency_rule(data: Mapping[str, Any]) -> list[Problem]:
    concurrency = data.get("concurrency")
    strategy = data.get("run_strategy", "parallel")
    if (
        isinstance(concurrency, int)
        and not isinstance(concurrency, bool)
        and concurrency > 1
        and isinstance(strategy, str)
        and strategy != "parallel"
    ):
        message = (
            f"concurrency {concurrency} needs run_strategy: parallel; "
            f"{strategy} runs one instance at a time"
        )
        return [Problem("concurrency", message)]
    return []


def _trigger_rule(trigger: Any) -> list[Problem]:
    if isinstance(trigger, Mapping) and not trigger.get("cron") and not trigger.get("signals"):
        message = (
            "a trigger needs 'cron' or 'signals'; without 'trigger' the workflow runs only "
            "when asked"
        )
        return [Problem("trigger", message)]
    return []


def step_list_rules(steps: Any, loc: Loc, outer_ids: frozenset[str]) -> list[Problem]:
    """Rules for one list of steps (its own id scope) and, recursively, foreach bodies."""
    if not isinstance(steps, list):
        return []
    problems: list[Problem] = []
    for index, step in enumerate(steps):
        if isinstance(step, Mapping):
            problems += step_body_rules(step, (*loc, index))
            problems += asset_rules(step, (*loc, index))
            problems += _foreach_rules(step.get("foreach"), (*loc, index, "foreach"), steps)
    problems += graph_rules(steps, loc, outer_ids)
    return problems


def _foreach_rules(foreach: Any, loc: Loc, siblings: list[Any]) -> list[Problem]:
    if not isinstance(foreach, Mapping):
        return []
    inner, sub = foreach.get("steps"), foreach.get("subworkflow")
    problems: list[Problem] = []
    if (inner is None) == (sub is None):
        message = "a foreach takes exactly one of 'steps' or 'subworkflow'"
        problems.append(Problem(format_location(loc), message))
    outer = frozenset(_ids(siblings))
    return problems + step_list_rules(inner, (*loc, "steps"), outer)


def step_body_rules(step: Mapping[str, Any], loc: Loc) -> list[Problem]:
    """Exactly one of type/foreach/subworkflow, and the body keys its type needs."""
    where = format_location(loc)
    kinds = [k for k in STEP_KINDS if step.get(k) is not None]
    if not kinds:
        message = "missing body: a step needs one of 'type', 'foreach' or 'subworkflow'"
        return [Problem(where, message)]
    problems: list[Problem] = []
    if len(kinds) > 1:
        found = " and ".join(repr(k) for k in kinds)
        message = f"a step takes exactly one of 'type', 'foreach' or 'subworkflow', not {found}"
        problems.append(Problem(where, message))
    step_type = step.get("type")
    present = [k for k in ALL_BODY_KEYS if step.get(k) is not None]
    if not isinstance(step_type, str) or step_type not in BODY_KEYS:
        if step_type is None:
            for key in present:
                message = (
                    f"key {key!r} belongs to job steps ({_owners(key)}); this step has no 'type'"
                )
                problems.append(Problem(where, message))
        return problems
    for key in present:
        if key not in BODY_KEYS[step_type]:
            message = f"key {key!r} does not apply to type {step_type!r} (it is for {_owners(key)})"
            problems.append(Problem(where, message))
    return problems + _required_body(step_type, present, where) + _container_rules(step, where)


def _container_rules(step: Mapping[str, Any], where: str) -> list[Problem]:
    """``container:`` runs a script in an image; ``resources:`` limits a container."""
    step_type = step.get("type")
    problems: list[Problem] = []
    if step.get("container") is not None and step_type not in ("script", "python"):
        message = (
            f"key 'container' does not apply to type {step_type!r}: it runs a 'script' or "
            "'python' step in an image; a 'container' step names its 'image' itself"
        )
        problems.append(Problem(where, message))
    if step.get("resources") is not None and step_type != "container" and not step.get("container"):
        message = (
            "key 'resources' limits a container: use it with type 'container' or beside "
            "'container: {image: ...}'"
        )
        problems.append(Problem(where, message))
    return problems


def _owners(key: str) -> str:
    types = [t for t, keys in BODY_KEYS.items() if key in keys]
    return "type " + " and ".join(repr(t) for t in types)


def _required_body(step_type: str, present: list[str], where: str) -> list[Problem]:
    if step_type in ("script", "python"):
        has_script, has_file = "script" in present, "file" in present
        if has_script and has_file:
            message = f"type {step_type!r} takes 'script' or 'file', not both"
            return [Problem(where, message)]
        if not has_script and not has_file:
            message = f"type {step_type!r} needs 'script' (the code) or 'file' (a path to it)"
            return [Problem(where, message)]
        return []
    required = REQUIRED_BODY_KEY.get(step_type)
    if required is not None and required not in present:
        return [Problem(where, f"type {step_type!r} needs {required!r}")]
    return []


def _ids(steps: list[Any]) -> list[str]:
    return [s["id"] for s in steps if isinstance(s, Mapping) and isinstance(s.get("id"), str)]


def graph_rules(steps: list[Any], loc: Loc, outer_ids: frozenset[str]) -> list[Problem]:
    """Duplicate ids, unknown or self dependencies, and cycles within one step list."""
    problems: list[Problem] = []
    first_seen: dict[str, int] = {}
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping) or not isinstance(step.get("id"), str):
            continue
        step_id = step["id"]
        if step_id in first_seen:
            first = format_location((*loc, first_seen[step_id]))
            message = f"duplicate step id {step_id!r} (first used at {first})"
            problems.append(Problem(format_location((*loc, index, "id")), message))
        else:
            first_seen[step_id] = index
    upstream: dict[str, list[str]] = {step_id: [] for step_id in first_seen}
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping) or not isinstance(step.get("depends_on"), list):
            continue
        where = format_location((*loc, index, "depends_on"))
        own_id = step.get("id")
        for dep in step["depends_on"]:
            if not isinstance(dep, str):
                continue
            if dep == own_id:
                problems.append(Problem(where, f"step {dep!r} depends on itself"))
            elif dep not in first_seen:
                problems.append(Problem(where, _unknown_dependency(dep, first_seen, outer_ids)))
            elif isinstance(own_id, str) and first_seen.get(own_id) == index:
                upstream[own_id].append(dep)
    problems += [
        Problem(format_location(loc), "cycle: " + " -> ".join(c)) for c in find_cycles(upstream)
    ]
    return problems


def _unknown_dependency(dep: str, known: Mapping[str, int], outer_ids: frozenset[str]) -> str:
    if dep in outer_ids:
        return (
            f"unknown step {dep!r}: steps inside a foreach depend only on steps of the same "
            "foreach; put the dependency on the foreach step"
        )
    return f"unknown step {dep!r}{did_you_mean(dep, known)}"


def find_cycles(upstream: Mapping[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected group, in flow order (upstream first), starting at
    the step defined first; ``upstream`` maps each step to the steps it depends on."""
    downstream: dict[str, list[str]] = {node: [] for node in upstream}
    for node, deps in upstream.items():
        for dep in deps:
            downstream[dep].append(node)
    reach = {node: _reachable(node, downstream) for node in upstream}
    cycles: list[list[str]] = []
    covered: set[str] = set()
    for node in upstream:
        if node in covered or node not in reach[node]:
            continue
        group = {other for other in reach[node] if node in reach[other]}
        covered |= group
        cycles.append(_shortest_cycle(node, downstream, group))
    return cycles


def _reachable(start: str, edges: Mapping[str, list[str]]) -> set[str]:
    """Nodes reachable from ``start`` by at least one edge."""
    seen: set[str] = set()
    todo = list(edges[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(edges[node])
    return seen


def _shortest_cycle(start: str, edges: Mapping[str, list[str]], group: set[str]) -> list[str]:
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in edges[node]:
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if nxt in group and nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    return [start, start]
