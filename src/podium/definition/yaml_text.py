"""Reading YAML text into plain data, reporting what the parser could not accept.

Two departures from ``yaml.safe_load``, both so that a definition means one thing:
dates stay text (``start: 2024-01-01`` is the string a JSON client would send), and a key
written twice in one mapping is an error instead of the last one silently winning.

Definitions come from API callers, so the loader also refuses hostile text before it costs
time or memory: a document over :data:`MAX_DEFINITION_BYTES`, nesting deeper than
:data:`MAX_DEPTH`, and aliases that expand past :data:`MAX_NODES` values. Depth and size are
counted while composing, with an alias charged the whole value it stands for, so a billion
laughs is refused after reading a few lines instead of after being built.
"""

from __future__ import annotations

from typing import Any, Protocol

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent, NodeEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from podium.definition.problems import ROOT, Problem

MAX_DEFINITION_BYTES = 4 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000
MAX_NUMBER_CHARS = (
    1000  # every int stays printable (str() stops at 4300 digits); bounds base-60 `1:2:3`
)


class _Mark(Protocol):
    line: int


class _Refused(Exception):
    """Raised while composing; carries the problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class _Loader(yaml.SafeLoader):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.duplicate_keys: list[Problem] = []
        self.depth = 0
        self.deepest = 0
        self.values = 0
        # anchor -> (values it expands to, levels it spans), known once its node is composed
        self.anchor_costs: dict[str, tuple[int, int]] = {}

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event: NodeEvent = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            self._charge_alias(event)
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Refused(_too_deep(event.start_mark))
        self._charge(1, event.start_mark)
        outer_deepest, self.deepest = self.deepest, self.depth
        values_before = self.values
        node = super().compose_node(parent, index)
        if event.anchor is not None:
            height = self.deepest - self.depth + 1
            self.anchor_costs[event.anchor] = (self.values - values_before, height)
        self.deepest = max(outer_deepest, self.deepest)
        self.depth -= 1
        return node

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """A value its tag cannot hold (``!!int foo``) is a problem at its line, not a crash."""
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            line = _line(node.start_mark)
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            shown = f"{node.value!r:.60} " if isinstance(node, ScalarNode) else ""
            message = f"the value {shown}at line {line} cannot be read as {tag} ({exc})"
            raise _Refused(Problem(f"line {line}", message)) from None

    def _charge_alias(self, event: AliasEvent) -> None:
        anchor = event.anchor or ""
        cost = self.anchor_costs.get(anchor)
        if cost is None:
            if anchor in self.anchors:
                line = _line(event.start_mark)
                message = (
                    f"the alias *{anchor} is inside the value it names (line {line}); "
                    "a value cannot contain itself"
                )
                raise _Refused(Problem(f"line {line}", message))
            return  # an undefined alias: the composer reports it
        values, height = cost
        self._charge(values, event.start_mark)
        if self.depth + height > MAX_DEPTH:
            raise _Refused(_too_deep(event.start_mark, through=anchor))
        self.deepest = max(self.deepest, self.depth + height)

    def _charge(self, values: int, mark: _Mark | None) -> None:
        self.values += values
        if self.values > MAX_NODES:
            message = (
                f"the document expands to more than {MAX_NODES} values (aliases included); "
                f"the limit is passed at line {_line(mark)}"
            )
            raise _Refused(Problem(ROOT, message))


def _line(mark: _Mark | None) -> int:
    return mark.line + 1 if mark is not None else 1


def _too_deep(mark: _Mark | None, *, through: str | None = None) -> Problem:
    line = _line(mark)
    via = f" through the alias *{through}" if through is not None else ""
    return Problem(f"line {line}", f"nesting deeper than {MAX_DEPTH} levels{via} (line {line})")


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


def _construct_int(loader: _Loader, node: ScalarNode) -> int:
    size = len(str(node.value))
    if size > MAX_NUMBER_CHARS:
        line = _line(node.start_mark)
        message = (
            f"the number at line {line} is {size} characters long; at most {MAX_NUMBER_CHARS} "
            "(quote it to keep it as text)"
        )
        raise _Refused(Problem(f"line {line}", message))
    return loader.construct_yaml_int(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_yaml(text: str) -> tuple[Any, list[Problem]]:
    """Parse ``text``; on a syntax error or a refused document return ``None`` and a problem
    naming the line when there is one."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_DEFINITION_BYTES:
        limit = f"{MAX_DEFINITION_BYTES // (1024 * 1024)} MiB"
        return None, [Problem(ROOT, f"the definition is {size} bytes; at most {limit}")]
    try:
        loader = _Loader(text)  # reads the text at once: a character YAML refuses fails here
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        return None, [
            Problem(
                f"line {line}",
                f"character U+{exc.character:04X} at line {line} is not allowed in YAML: "
                "remove it, or write it as an escape in a double-quoted string",
            )
        ]
    try:
        data = loader.get_single_data()
    except _Refused as exc:
        return None, [exc.problem]
    except RecursionError:
        return None, [Problem(ROOT, f"nesting deeper than {MAX_DEPTH} levels")]
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_problem(exc)]
    except yaml.YAMLError as exc:
        return None, [Problem(ROOT, f"YAML error: {exc}")]
    finally:
        loader.dispose()
    return data, loader.duplicate_keys


def _syntax_problem(exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = _line(mark)
    column = mark.column + 1 if mark is not None else 1
    if exc.problem == "but found another document":
        message = (
            f"a definition is one YAML document, but another one starts at line {line}; "
            "remove the '---' there or push each workflow on its own"
        )
        return Problem(f"line {line}", message)
    reason = exc.problem or exc.context or "unreadable YAML"
    if exc.context and exc.problem and exc.problem.startswith("but "):
        reason = f"{exc.context}, {exc.problem}"
    return Problem(f"line {line}", f"YAML syntax error: {reason} (line {line}, column {column})")
