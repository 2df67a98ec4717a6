"""Property tests: whatever the input, the interpreter returns a value or raises ExprError.

Random expressions are built from the language's own pieces (and a few hostile ones), and
random text is thrown at the template parser; small budgets keep every example quick.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podium.expr import Budgets, CodeBlock, ExprError, Namespace, Template

SMALL = Budgets(
    operations=2_000,
    wall_time_s=0.5,
    collection_size=2_000,
    string_size=20_000,
    integer_bits=512,
    nesting_depth=30,
    source_length=2_000,
)
SCOPE: dict[str, Any] = {
    "n": 5,
    "f": 2.5,
    "s": "abc",
    "xs": [1, 2, 3],
    "ys": ["a", "b"],
    "d": {"a": 1, "b": [2]},
    "none": None,
    "plan": Namespace({"dates": [20240101, 20240102]}, name="plan", member="output"),
}
FUNCTIONS = [
    "len",
    "range",
    "min",
    "max",
    "sum",
    "sorted",
    "abs",
    "round",
    "str",
    "int",
    "float",
    "bool",
    "list",
    "dict",
    "zip",
    "enumerate",
    "any",
    "all",
    "lower",
    "upper",
    "strip",
    "split",
    "join",
    "replace",
    "reversed",
    "dates.between",
    "dates.add",
    "dates.format",
    "dates.parse",
    "dates.diff",
    "type",
    "getattr",
    "__import__",
]
BINARY = [
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    "<<",
    ">>",
    "&",
    "|",
    "^",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not in",
    "is",
    "and",
    "or",
]
ATOMS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(alphabet="ab}{'\\ $%", max_size=6).map(repr),
    st.sampled_from(
        [
            "n",
            "f",
            "s",
            "xs",
            "ys",
            "d",
            "none",
            "plan",
            "plan.dates",
            "dates",
            "True",
            "None",
            "20240229",
            "'2024-02-29'",
            "nope",
            "__class__",
            "plan.datez",
            "10**9",
            "[]",
            "{}",
            "-1",
            "0",
        ]
    ),
)


def _extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(inner, st.sampled_from(BINARY), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["-", "not ", "~"]), inner).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(st.sampled_from(FUNCTIONS), st.lists(inner, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
        st.lists(inner, max_size=4).map(lambda items: f"[{', '.join(items)}]"),
        st.tuples(inner, inner).map(lambda t: f"{{'k': {t[0]}, 'j': {t[1]}}}"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(inner, inner, inner).map(lambda t: f"{t[0]}[{t[1]}:{t[2]}]"),
        st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(inner, inner).map(lambda t: f"[v * {t[0]} for v in {t[1]}]"),
        st.tuples(inner, st.sampled_from(["", ":>5", ":.2f", ":x", "!r", ":{n}"])).map(
            lambda t: f"f'<{{{t[0]}{t[1]}}}>'"
        ),
        st.tuples(inner, st.sampled_from(["dates", "real", "__class__", "upper", "gi_frame"])).map(
            lambda t: f"{t[0]}.{t[1]}"
        ),
    )


EXPRESSIONS = st.recursive(ATOMS, _extend, max_leaves=12)


def _is_json(value: Any) -> bool:
    json.dumps(value, allow_nan=True)
    return True


def _outcome(run: Any) -> None:
    try:
        value = run()
    except ExprError:
        return
    assert _is_json(value)


SETTINGS = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(EXPRESSIONS)
def test_random_expressions_give_a_value_or_expr_error(source: str) -> None:
    def run() -> Any:
        return Template.parse("${ " + source + " }", budgets=SMALL).evaluate(SCOPE, SMALL)

    _outcome(run)


@SETTINGS
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "n"]), EXPRESSIONS), min_size=1, max_size=4),
    EXPRESSIONS,
    st.booleans(),
)
def test_random_code_blocks(assignments: list[tuple[str, str]], result: str, loop: bool) -> None:
    lines = [f"{name} = {value}" for name, value in assignments]
    if loop:
        lines = ["for i in range(n):", *(f"    {line}" for line in lines)]
    source = "\n".join([*lines, f"return {result}"])
    _outcome(lambda: CodeBlock.parse(source, SMALL).evaluate(SCOPE, SMALL))


@SETTINGS
@given(st.text(alphabet="${} ()[]'\"\\x+*1-_.:#%\n", max_size=40), st.booleans())
def test_random_text_gives_text_or_expr_error(text: str, shell: bool) -> None:
    _outcome(lambda: Template.parse(text, shell=shell, budgets=SMALL).evaluate(SCOPE, SMALL))


@settings(max_examples=200, deadline=2000)
@given(st.text(max_size=60))
def test_any_unicode_is_handled(text: str) -> None:
    _outcome(lambda: Template.parse("${" + text + "}", budgets=SMALL).evaluate(SCOPE, SMALL))
    _outcome(lambda: CodeBlock.parse(text, SMALL).evaluate(SCOPE, SMALL))
