"""Reading YAML text into plain data, reporting what the parser could not accept.

Two departures from ``yaml.safe_load``, both so that a definition means one thing:
dates stay text (``start: 2024-01-01`` is the string a JSON client would send), and a key
written twice in one mapping is an error instead of the last one silently winning.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

from podium.definition.problems import ROOT, Problem

MAX_NODES = 100_000


class _Loader(yaml.SafeLoader):
    duplicate_keys: list[Problem]


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _Loader, node: MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            is_repeat = key in seen
            seen.add(key)
        except TypeError:
            raise ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if is_repeat:
            line = key_node.start_mark.line + 1
            message = f"duplicate key {key!r}; each key may appear once in a mapping"
            loader.duplicate_keys.append(Problem(f"line {line}", message))
    return dict(loader.construct_pairs(node, deep=True))


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str) -> tuple[Any, list[Problem]]:
    """Parse ``text``; on a syntax error return ``None`` and a problem naming the line."""
    loader = _Loader(text)
    loader.duplicate_keys = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        column = mark.column + 1 if mark is not None else 1
        reason = exc.problem or exc.context or "unreadable YAML"
        if exc.context and exc.problem and exc.problem.startswith("but "):
            reason = f"{exc.context}, {exc.problem}"
        message = f"YAML syntax error: {reason} (line {line}, column {column})"
        return None, [Problem(f"line {line}", message)]
    except yaml.YAMLError as exc:
        return None, [Problem(ROOT, f"YAML error: {exc}")]
    finally:
        loader.dispose()
    if _too_big(data):
        message = f"the document expands to more than {MAX_NODES} values (aliases included)"
        return None, [Problem(ROOT, message)]
    return data, loader.duplicate_keys


def _too_big(data: Any) -> bool:
    """Guard against alias bombs: count values as the model would walk them."""
    budget = MAX_NODES
    todo = [data]
    while todo:
        item = todo.pop()
        budget -= 1
        if budget < 0:
            return True
        if isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return False
