"""The expression language: every construct, interpolation, shell mode and code blocks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from podium.errors import InvalidInput
from podium.expr import Budgets, CodeBlock, ExprError, Namespace, Template

PLAN = Namespace({"dates": [20240101, 20240102], "count": 2}, name="plan", member="output")
SCOPE: dict[str, Any] = {
    "x": 3,
    "y": 4.5,
    "s": "Hello",
    "xs": [3, 1, 2],
    "d": {"a": 1, "b": [1, 2]},
    "plan": PLAN,
    "run": Namespace({"date": 20240105, "workflow_id": "wf"}, name="run", member="field"),
    "nothing": None,
}


def ev(text: str, **extra: Any) -> Any:
    return Template.parse(text).evaluate({**SCOPE, **extra})


def code(source: str, **extra: Any) -> Any:
    return CodeBlock.parse(source).evaluate({**SCOPE, **extra})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${ 1 }", 1),
        ("${ 'a' }", "a"),
        ("${ None }", None),
        ("${ True and False }", False),
        ("${ x or 0 }", 3),
        ("${ 0 or nothing }", None),
        ("${ x + 1 }", 4),
        ("${ x - 5 }", -2),
        ("${ x * 2 }", 6),
        ("${ x / 2 }", 1.5),
        ("${ x // 2 }", 1),
        ("${ x % 2 }", 1),
        ("${ 2 ** 10 }", 1024),
        ("${ 2 ** -1 }", 0.5),
        ("${ 1 << 4 }", 16),
        ("${ 256 >> 4 }", 16),
        ("${ 6 & 3 }", 2),
        ("${ 6 | 3 }", 7),
        ("${ 6 ^ 3 }", 5),
        ("${ -x }", -3),
        ("${ +x }", 3),
        ("${ ~x }", -4),
        ("${ not x }", False),
        ("${ 1 + 2 + 3 + 4 }", 10),
        ("${ 1 < x <= 3 }", True),
        ("${ 1 < x < 3 }", False),
        ("${ x == 3.0 }", True),
        ("${ x != 3 }", False),
        ("${ [1, [2]] == [1, [2]] }", True),
        ("${ {'a': 1} == {'a': 1} }", True),
        ("${ [1, 2] < [1, 3] }", True),
        ("${ 'a' < 'b' }", True),
        ("${ 2 in xs }", True),
        ("${ 5 not in xs }", True),
        ("${ 'a' in d }", True),
        ("${ 'ell' in s }", True),
        ("${ 'dates' in plan }", True),
        ("${ nothing is None }", True),
        ("${ x is not None }", True),
        ("${ 'yes' if x > 2 else 'no' }", "yes"),
        ("${ xs[0] }", 3),
        ("${ xs[-1] }", 2),
        ("${ xs[1:] }", [1, 2]),
        ("${ xs[::-1] }", [2, 1, 3]),
        ("${ s[1:3] }", "el"),
        ("${ d['b'][1] }", 2),
        ("${ plan.dates }", [20240101, 20240102]),
        ("${ plan['count'] }", 2),
        ("${ run.date }", 20240105),
        ("${ (1, 2) }", [1, 2]),
        ("${ [1, *xs] }", [1, 3, 1, 2]),
        ("${ {'k': x, **d} }", {"k": 3, "a": 1, "b": [1, 2]}),
        ("${ [v * 2 for v in xs if v > 1] }", [6, 4]),
        ("${ [a + b for a in [1, 2] for b in [10, 20]] }", [11, 21, 12, 22]),
        ("${ {k: v for k, v in [['a', 1], ['b', 2]]} }", {"a": 1, "b": 2}),
        ("${ sum(v for v in xs) }", 6),
        ("${ [v for v in plan] }", ["dates", "count"]),
        ("${ [1, 2] + [3] }", [1, 2, 3]),
        ("${ 'ab' * 2 }", "abab"),
        ("${ 2 * [0] }", [0, 0]),
        ("${ d | {'c': 3} }", {"a": 1, "b": [1, 2], "c": 3}),
        ("${ f'{x}-{s}' }", "3-Hello"),
        ("${ f'{x:03d}|{y:.2f}|{s:>7}|{x:x}' }", "003|4.50|  Hello|3"),
        ("${ f'{xs} {nothing} {True}' }", "[3,1,2] null true"),
        ("${ f'{{literal}}' }", "{literal}"),
        ("${ '\\d+' }", "\\d+"),
        ("${ '\\t' }", "\t"),
    ],
)
def test_expressions(text: str, expected: Any) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${ len(xs) }", 3),
        ("${ len(s) }", 5),
        ("${ len(d) }", 2),
        ("${ range(3) }", [0, 1, 2]),
        ("${ range(1, 7, 2) }", [1, 3, 5]),
        ("${ range(5, 0, -2) }", [5, 3, 1]),
        ("${ range(3, 1) }", []),
        ("${ min(xs) }", 1),
        ("${ max(xs) }", 3),
        ("${ max(1, 7, 2) }", 7),
        ("${ min([], default=0) }", 0),
        ("${ sum(xs) }", 6),
        ("${ sum([0.5, 0.25], 1) }", 1.75),
        ("${ sorted(xs) }", [1, 2, 3]),
        ("${ sorted(['b', 'a'], reverse=True) }", ["b", "a"]),
        ("${ sorted([[2, 'a'], [1, 'b']]) }", [[1, "b"], [2, "a"]]),
        ("${ reversed(xs) }", [2, 1, 3]),
        ("${ abs(-2.5) }", 2.5),
        ("${ round(2.567, 2) }", 2.57),
        ("${ round(2.5) }", 2),
        ("${ str(12) }", "12"),
        ("${ str([1, 'a']) }", '[1,"a"]'),
        ("${ str(True) }", "true"),
        ("${ int('42') }", 42),
        ("${ int('ff', 16) }", 255),
        ("${ int(3.9) }", 3),
        ("${ float('1.5') }", 1.5),
        ("${ bool([]) }", False),
        ("${ list('ab') }", ["a", "b"]),
        ("${ list(d) }", ["a", "b"]),
        ("${ dict([['a', 1]], b=2) }", {"a": 1, "b": 2}),
        ("${ dict(plan) }", {"dates": [20240101, 20240102], "count": 2}),
        ("${ zip([1, 2], ['a', 'b', 'c']) }", [[1, "a"], [2, "b"]]),
        ("${ enumerate(['a', 'b'], start=1) }", [[1, "a"], [2, "b"]]),
        ("${ any([0, 1]) }", True),
        ("${ all([1, 0]) }", False),
        ("${ lower(s) }", "hello"),
        ("${ upper(s) }", "HELLO"),
        ("${ strip('  a ') }", "a"),
        ("${ split('a,b', ',') }", ["a", "b"]),
        ("${ split(' a  b ') }", ["a", "b"]),
        ("${ join('-', ['a', 'b']) }", "a-b"),
        ("${ replace(s, 'l', 'L') }", "HeLLo"),
    ],
)
def test_builtins(text: str, expected: Any) -> None:
    assert ev(text) == expected


def test_uuid_and_now() -> None:
    assert len(ev("${ uuid() }")) == 36
    assert ev("${ uuid() != uuid() }") is True
    fixed = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
    now = Template.parse("${ now() }").evaluate({}, clock=lambda: fixed)
    assert now == "2024-03-01T12:30:00+00:00"


def test_fail() -> None:
    with pytest.raises(ExprError) as caught:
        ev("${ fail('bad input') }")
    assert caught.value.message == "fail: bad input"
    assert caught.value.budget is None
    assert caught.value.code == "expression_error"
    assert isinstance(caught.value, InvalidInput)


class TestInterpolation:
    def test_typed_only_when_the_whole_string_is_one_expression(self) -> None:
        assert ev("${ xs }") == [3, 1, 2]
        assert ev("${xs}") == [3, 1, 2]
        assert ev(" ${ xs }") == " [3,1,2]"
        assert ev("${ xs } ") == "[3,1,2] "
        assert ev("${ x }${ x }") == "33"

    def test_text_conversion_is_compact_json(self) -> None:
        assert ev("v=${ nothing } ${ True } ${ y } ${ d } ${ s }") == (
            'v=null true 4.5 {"a":1,"b":[1,2]} Hello'
        )

    def test_escape(self) -> None:
        assert ev("$${ x } is ${ x }") == "${ x } is 3"
        assert ev("$${x}") == "${x}"
        assert ev("cost: $5") == "cost: $5"

    def test_literal(self) -> None:
        template = Template.parse("plain $$ text")
        assert template.is_literal
        assert template.evaluate({}) == "plain $$ text"
        assert not Template.parse("${ 1 }").is_literal

    def test_braces_and_strings_inside(self) -> None:
        assert ev("${ {'a': 1}['a'] }") == 1
        assert ev("${ '}' + \"{\" }") == "}{"
        assert ev("<${ len('}}}') }>") == "<3>"
        assert ev("${ '''a}b''' }") == "a}b"

    def test_shell_mode_leaves_bash_alone(self) -> None:
        template = Template.parse(
            'echo "${HOME} ${x:-1} ${#arr[@]} ${ x } $${ literal }"', shell=True
        )
        assert template.render(SCOPE) == 'echo "${HOME} ${x:-1} ${#arr[@]} 3 ${ literal }"'
        assert [r.name for r in template.references()] == ["x"]

    def test_render_is_always_text(self) -> None:
        assert Template.parse("${ xs }").render(SCOPE) == "[3,1,2]"

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("${ 1 + }", "`1 +`"),
            ("a ${ x", "no closing"),
            ("${ }", "empty expression"),
            ("${ x ) }", "unbalanced"),
            ("${ 'abc }", "unterminated string"),
            ("ab ${ 1 2 }", "column 9"),
        ],
    )
    def test_syntax_errors_say_where(self, text: str, fragment: str) -> None:
        with pytest.raises(ExprError) as caught:
            Template.parse(text)
        assert fragment in caught.value.message


class TestCodeBlocks:
    def test_statements(self) -> None:
        source = """
        total = 0
        for i in range(10):
            if i % 2:
                continue
            elif i > 6:
                break
            else:
                total += i
        n = 0
        while n < 3:
            n += 1
        else:
            n += 10
        a, [b, c] = [1, [2, 3]]
        first = second = 5
        out = {}
        out['total'] = total
        out['n'] = n
        items = [0, 0]
        items[1] = a + b + c
        items[0] += first + second
        pass
        return [out, items]
        """
        assert code(source) == [{"total": 12, "n": 13}, [10, 6]]

    def test_for_else_and_loop_break(self) -> None:
        assert code("for v in xs:\n    pass\nelse:\n    return 'done'") == "done"
        assert code("for v in xs:\n    if v == 1:\n        return v\nreturn None") == 1

    def test_names_read_the_scope_then_shadow_it(self) -> None:
        assert code("x = x + 1\nreturn x") == 4

    def test_falling_off_the_end(self) -> None:
        with pytest.raises(ExprError, match="without `return`"):
            code("a = 1")

    def test_bare_return(self) -> None:
        assert code("return") is None

    def test_fail(self) -> None:
        with pytest.raises(ExprError, match=r"^fail: no dates$"):
            code("if not []:\n    fail('no dates')\nreturn 1")

    def test_scope_values_are_never_changed(self) -> None:
        with pytest.raises(ExprError, match="copy it first"):
            code("xs[0] = 9\nreturn xs")
        with pytest.raises(ExprError, match="copy it first"):
            code("d['a'] = 9\nreturn d")
        assert code("c = list(xs)\nc[0] = 9\nreturn c") == [9, 1, 2]
        assert code("xs += [4]\nreturn xs") == [3, 1, 2, 4]
        assert SCOPE["xs"] == [3, 1, 2] and SCOPE["d"] == {"a": 1, "b": [1, 2]}

    def test_comprehension_names_do_not_leak(self) -> None:
        assert code("v = 'outer'\nys = [v for v in xs]\nreturn v") == "outer"

    def test_break_outside_loop_is_refused(self) -> None:
        with pytest.raises(ExprError, match="outside a loop"):
            CodeBlock.parse("break")

    def test_indented_source_is_dedented(self) -> None:
        assert CodeBlock.parse("    a = 2\n    return a").evaluate({}) == 2


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("${ nope }", "unknown name 'nope'"),
        ("${ lenn(xs) }", "did you mean 'len'"),
        ("${ plan.datez }", "plan has no output 'datez' (did you mean 'dates'?)"),
        ("${ run.dat }", "run has no field 'dat'"),
        ("${ d['c'] }", "key 'c' is not in the dict"),
        ("${ xs[5] }", "out of range"),
        ("${ 1 / 0 }", "division by zero"),
        ("${ 'a' + 1 }", "cannot add str and int"),
        ("${ 'a' < 1 }", "cannot compare str with int"),
        ("${ s.lower() }", "call lower(x, …)"),
        ("${ xs.append }", "xs + [x]"),
        ("${ x(1) }", "is not a function"),
        ("${ len(1) }", "len() needs"),
        ("${ len() }", "len():"),
        ("${ {'a': 1}[[1]] }", "dict key must be"),
        ("${ {1: 'a'} }", "dict keys must be strings"),
        ("${ len }", "call it"),
        ("${ int('x1') }", "not an integer"),
        ("${ (-8) ** 0.5 }", "complex"),
        ("${ 10.0 ** 400 }", "too large"),
        ("${ f'{xs:>4}' }", "format spec applies"),
        ("${ f'{x:q}' }", "invalid format spec"),
        ("${ dates.nope(1) }", "dates has no helper 'nope'"),
        ("${ min([]) }", "empty list"),
        ("${ range(1, 2, 0) }", "must not be zero"),
    ],
)
def test_errors_are_actionable(text: str, fragment: str) -> None:
    with pytest.raises(ExprError) as caught:
        ev(text)
    assert fragment in caught.value.message
    assert caught.value.budget is None


def test_budgets_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_EXPR_OPERATIONS", "50")
    monkeypatch.setenv("PODIUM_EXPR_WALL_TIME_S", "0.5")
    budgets = Budgets.from_env()
    assert budgets.operations == 50 and budgets.wall_time_s == 0.5
    assert budgets.string_size == Budgets().string_size
    with pytest.raises(ExprError) as caught:
        Template.parse("${ sum(range(1000)) }").evaluate({})
    assert caught.value.budget == "operations"
    assert "PODIUM_EXPR_OPERATIONS" in caught.value.message
    monkeypatch.setenv("PODIUM_EXPR_OPERATIONS", "lots")
    with pytest.raises(InvalidInput, match="PODIUM_EXPR_OPERATIONS"):
        Budgets.from_env()


def test_explicit_budgets_win() -> None:
    small = Budgets(operations=20)
    with pytest.raises(ExprError) as caught:
        Template.parse("${ [v for v in range(100)] }").evaluate({}, small)
    assert caught.value.budget == "operations"
    with pytest.raises(ExprError) as caught:
        Template.parse("${ [[[1]]] }").evaluate({}, Budgets(nesting_depth=2))
    assert caught.value.budget == "nesting_depth"


def test_results_are_fresh_json_values() -> None:
    result = ev("${ d }")
    assert result == SCOPE["d"] and result is not SCOPE["d"]
    assert ev("${ [plan] }") == [{"dates": [20240101, 20240102], "count": 2}]


def test_python_objects_in_the_scope_are_refused() -> None:
    with pytest.raises(ExprError, match="Python type object"):
        Template.parse("${ o }").evaluate({"o": object()})
