"""A hostile corpus: escapes are refused, bombs stop within their budget, quickly and small.

Each entry is (kind, source, budget): kind "expr" is a ``${ … }`` parameter, "code" a code
block; budget is the budget that must be named, or None for a plain refusal.
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

import pytest

from podium.expr import Budgets, CodeBlock, ExprError, Namespace, Template

MAX_SECONDS = 2.0
MAX_GROWTH_BYTES = 100 * 1024 * 1024

ESCAPES: list[tuple[str, str, str | None]] = [
    ("expr", "().__class__", None),
    ("expr", "().__class__.__bases__[0].__subclasses__()", None),
    ("expr", "''.__class__.__mro__[1].__subclasses__()", None),
    ("expr", "[].__class__", None),
    ("expr", "__import__('os').system('true')", None),
    ("expr", "__builtins__", None),
    ("expr", "getattr((), '__class__')", None),
    ("expr", "type(1)", None),
    ("expr", "type('x', (), {})", None),
    ("expr", "vars()", None),
    ("expr", "globals()", None),
    ("expr", "locals()", None),
    ("expr", "eval('1')", None),
    ("expr", "exec('x = 1')", None),
    ("expr", "compile('1', 'f', 'eval')", None),
    ("expr", "open('/etc/passwd')", None),
    ("expr", "format(1, 'x')", None),
    ("expr", "'{0.__class__}'.format(1)", None),
    ("expr", "'{x.__globals__}'.format(x=len)", None),
    ("expr", "'%s' % x", None),
    ("expr", "f'{x!r}'", None),
    ("expr", "f'{x!s}'", None),
    ("expr", "f'{x!a}'", None),
    ("expr", "f'{x:{y}}'", None),
    ("expr", "f'{().__class__}'", None),
    ("expr", "f'{len.__self__}'", None),
    ("expr", "(v for v in []).gi_frame", None),
    ("expr", "(v for v in []).gi_frame.f_globals", None),
    ("expr", "(v for v in []).gi_code", None),
    ("expr", "[v for v in []].__class__", None),
    ("expr", "lambda: 1", None),
    ("expr", "(lambda: 1)()", None),
    ("expr", "plan._items", None),
    ("expr", "plan.__dict__", None),
    ("expr", "plan.__class__.__init__.__globals__", None),
    ("expr", "dates.between.__globals__", None),
    ("expr", "dates.between.func", None),
    ("expr", "len.func.__globals__", None),
    ("expr", "len.name", None),
    ("expr", "str.join", None),
    ("expr", "(1).real", None),
    ("expr", "'x'.upper()", None),
    ("expr", "_secret", None),
    ("expr", "[_ for _ in xs]", None),
    ("expr", "(y := 1)", None),
    ("expr", "{1, 2}", None),
    ("expr", "{v for v in xs}", None),
    ("expr", "b'abc'", None),
    ("expr", "1j", None),
    ("expr", "...", None),
    ("expr", "len(*xs)", None),
    ("expr", "dict(**{'a': 1})", None),
    ("expr", "dict(__class__=1)", None),
    ("expr", "[v async for v in xs]", None),
    ("expr", "await x", None),
    ("expr", "(yield 1)", None),
    ("expr", "x @ x", None),
    ("expr", "o", None),
    ("expr", "xs.__len__()", None),
    ("code", "import os\nreturn 1", None),
    ("code", "from os import system\nreturn 1", None),
    ("code", "def f():\n    return 1\nreturn f()", None),
    ("code", "class A:\n    pass\nreturn 1", None),
    ("code", "global x\nreturn 1", None),
    ("code", "try:\n    x = 1\nexcept Exception:\n    pass\nreturn 1", None),
    ("code", "raise ValueError()", None),
    ("code", "del x\nreturn 1", None),
    ("code", "with open('f') as f:\n    pass\nreturn 1", None),
    ("code", "plan.dates = 1\nreturn 1", None),
    ("code", "a, *b = xs\nreturn b", None),
    ("code", "xs[0] = 1\nreturn xs", None),
    ("code", "__builtins__ = 1\nreturn 1", None),
    ("code", "assert False\nreturn 1", None),
    ("code", "match x:\n    case 1:\n        pass\nreturn 1", None),
]

BOMBS: list[tuple[str, str, str | None]] = [
    ("expr", "'a' * 10**9", "string_size"),
    ("expr", "[0] * 10**9", "collection_size"),
    ("expr", "10 ** 10 ** 10", "integer_size"),
    ("expr", "2 ** 100000", "integer_size"),
    ("expr", "1 << 10**9", "integer_size"),
    ("expr", "range(10**12)", "collection_size"),
    ("expr", "list(range(10**12))", "collection_size"),
    ("expr", "int('9' * 100000)", "integer_size"),
    ("expr", "str(10 ** 4000)", "integer_size"),
    ("expr", "'%s' * 10**9", "string_size"),
    ("expr", "[[0] * 100000] * 100000", "collection_size"),
    ("expr", "str([[0] * 100000] * 100000)", "operations"),
    ("expr", "[[0] * 100000] * 100000 == [[0] * 100000] * 100000", "operations"),
    ("expr", "sorted([[0] * 100000] * 1000)", "operations"),
    ("expr", "[v for v in range(100000) for w in range(100000)]", "operations"),
    ("expr", "sum(range(100000)) + sum(range(100000))", "operations"),
    ("expr", "replace('a' * 1000000, 'a', 'aaaa')", "string_size"),
    ("expr", "join('', ['a' * 1000000] * 2)", "string_size"),
    ("expr", "split('a ' * 400000)", "collection_size"),
    ("expr", "split('a,' * 400000, ',')", "collection_size"),
    ("expr", "upper('a' * 1000000)", "string_size"),
    ("expr", "f'{1:1000000000}'", "string_size"),
    ("expr", "f'{x:>2000000}'", "string_size"),
    ("expr", "dates.between(10000101, 99991231)", "collection_size"),
    ("expr", "[" * 100 + "]" * 100, "nesting_depth"),
    ("expr", "(" * 3000 + "1" + ")" * 3000, "nesting_depth"),
    ("expr", "-" * 9000 + "1", "nesting_depth"),
    ("expr", "not " * 2000 + "x", "nesting_depth"),
    ("expr", "1 + " * 6000 + "1", "source_length"),
    ("expr", "9" * 2000, "integer_size"),
    ("code", "while True:\n    pass", "operations"),
    ("code", "n = 0\nwhile True:\n    n += 1", "operations"),
    ("code", "v = 1\nwhile v:\n    v = v * 2", "integer_size"),
    ("code", "s = 'a'\nwhile True:\n    s = s + s", "string_size"),
    ("code", "l = [0]\nwhile True:\n    l = l + l", "collection_size"),
    ("code", "d = {}\nfor i in range(100000):\n    d[str(i)] = i\nreturn d", "operations"),
    ("code", "v = []\nfor i in range(5000):\n    v = [v]\nreturn v", "nesting_depth"),
    ("code", "v = []\nfor i in range(5000):\n    v = [v]\nreturn v == [v]", "nesting_depth"),
    ("code", "v = []\nfor i in range(5000):\n    v = [v]\nreturn str(v)", "nesting_depth"),
    (
        "code",
        "big = 'x' * 999_000\nkeep = []\nfor i in range(1000):\n    keep = keep + [big + str(i)]\n"
        "return len(keep)",
        "operations",
    ),
    (
        "code",
        "row = [0] * 100000\nrows = []\nfor i in range(1000):\n    rows = rows + [row[:]]\nreturn 1",
        "operations",
    ),
    ("code", "s = ''\nfor i in range(100000):\n    s = s + 'abcdefghij'\nreturn s", "operations"),
]

SCOPE: dict[str, Any] = {
    "x": 7,
    "y": "5",
    "xs": [1, 2, 3],
    "o": object(),
    "plan": Namespace({"dates": [20240101]}, name="plan", member="output"),
}


def _run(kind: str, source: str, budgets: Budgets) -> Any:
    if kind == "code":
        return CodeBlock.parse(source, budgets).evaluate(SCOPE, budgets)
    return Template.parse("${ " + source + " }", budgets=budgets).evaluate(SCOPE, budgets)


def _stopped(kind: str, source: str, budgets: Budgets) -> ExprError:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ExprError) as caught:
            _run(kind, source, budgets)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < MAX_SECONDS, f"took {elapsed:.2f} s"
    assert peak < MAX_GROWTH_BYTES, f"grew by {peak / 1e6:.0f} MB"
    return caught.value


def test_the_corpus_is_large_enough() -> None:
    assert len(ESCAPES) + len(BOMBS) >= 50
    assert len(ESCAPES) >= 50


@pytest.mark.parametrize(("kind", "source", "budget"), ESCAPES + BOMBS)
def test_hostile_input_is_refused_or_stopped(kind: str, source: str, budget: str | None) -> None:
    # The budget under test must be the one that stops it: on a loaded machine (tracemalloc
    # slows the interpreter too) the default second of wall time can run out first.
    budgets = Budgets() if budget == "wall_time" else Budgets(wall_time_s=MAX_SECONDS)
    error = _stopped(kind, source, budgets)
    assert error.budget == budget, error.message
    if budget is not None:
        assert budget in error.message


def test_wall_time_stops_a_loop_the_operation_budget_allows() -> None:
    budgets = Budgets(operations=10**12, wall_time_s=0.2)
    error = _stopped("code", "while True:\n    pass", budgets)
    assert error.budget == "wall_time"


def test_a_slow_builtin_is_bounded_by_wall_time() -> None:
    budgets = Budgets(operations=10**12, wall_time_s=0.3)
    source = "v = 0\nwhile True:\n    v = len(sorted(range(1000)))"
    assert _stopped("code", source, budgets).budget == "wall_time"
