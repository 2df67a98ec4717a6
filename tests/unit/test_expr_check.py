"""Push-time checks (references, unknown names, syntax) and resolving whole param values."""

from __future__ import annotations

from typing import Any

import pytest

from podium.expr import (
    BUILTIN_NAMES,
    CodeBlock,
    ExprError,
    Namespace,
    Reference,
    Template,
    check,
    references,
    resolve,
)


class TestReferences:
    def test_attribute_and_subscript_reads(self) -> None:
        template = Template.parse("${ plan.dates } ${ len(x) } ${ run['date'] } ${ plan.dates }")
        assert template.references() == [
            Reference("plan", "dates"),
            Reference("x", None),
            Reference("run", "date"),
        ]

    def test_builtins_and_bound_names_are_not_references(self) -> None:
        template = Template.parse("${ [dates.add(d, days=n) for d in plan.dates if d > lo] }")
        assert template.references() == [
            Reference("plan", "dates"),
            Reference("lo", None),
            Reference("n", None),
        ]
        assert Template.parse("${ {k: v for k, v in pairs} }").references() == [Reference("pairs")]

    def test_code_block_locals(self) -> None:
        block = CodeBlock.parse(
            "total = start\nfor d in plan.dates:\n    total += d\n    last = d\nreturn [total, last, end]"
        )
        assert block.references() == [
            Reference("start"),
            Reference("plan", "dates"),
            Reference("end"),
        ]

    def test_a_name_read_before_its_assignment_is_free(self) -> None:
        assert CodeBlock.parse("x = x + 1\nreturn x").references() == [Reference("x")]

    def test_locations_in_a_value(self) -> None:
        value = {
            "a": "${ one }",
            "b": ["lit", "${ two.out }"],
            "c": {"code": "return three"},
            "d": {"e": "${ 1 + }"},
            "n": 5,
        }
        assert references(value) == [
            (".a", Reference("one")),
            (".b[1]", Reference("two", "out")),
            (".c.code", Reference("three")),
        ]
        assert references("${ x }") == [("", Reference("x"))]

    def test_shell_mode(self) -> None:
        assert references("echo ${HOME} ${ day }", shell=True) == [("", Reference("day"))]


class TestCheck:
    def test_unknown_names_with_suggestions(self) -> None:
        value = {
            "a": "${ plan.dates }",
            "b": "${ pln.dates }",
            "c": ["${ lenn(plan) }"],
            "d": {"code": "y = 1\nreturn y + strat"},
        }
        assert check(value, ["plan", "start"]) == [
            (".b", "unknown name 'pln' (did you mean 'plan'?)"),
            (".c[0]", "unknown name 'lenn' (did you mean 'len'?)"),
            (".d.code", "unknown name 'strat' (did you mean 'start'?)"),
        ]

    def test_syntax_and_whitelist_problems_never_raise(self) -> None:
        problems = check(
            ["${ 1 + }", "${ ().__class__ }", {"code": "import os"}, "${ dates.ad(1) }", 3],
            [],
        )
        assert [location for location, _ in problems] == ["[0]", "[1]", "[2].code", "[3]"]
        assert "invalid syntax" in problems[0][1]
        assert "'_'" in problems[1][1]
        assert "imports" in problems[2][1]
        assert "did you mean 'add'" in problems[3][1]

    def test_a_name_assigned_later_in_a_loop_is_not_unknown(self) -> None:
        source = "prev = 0\nfor i in xs:\n    if i:\n        y = last\n    last = i\nreturn prev"
        assert check({"code": source}, ["xs"]) == []

    def test_clean_value(self) -> None:
        assert check({"p": "${ run.date }", "q": [1, "plain"]}, ["run"]) == []

    def test_builtin_names_are_exported(self) -> None:
        assert {"len", "dates", "uuid", "now", "fail"} <= BUILTIN_NAMES


class TestResolve:
    SCOPE: dict[str, Any] = {
        "start": 20240101,
        "n": 2,
        "run": Namespace({"date": 20240105}, name="run", member="field"),
    }

    def test_walks_lists_and_dicts_but_not_keys(self) -> None:
        value = {
            "typed": "${ dates.add(start, days=n) }",
            "text": "/out/${ run.date }/",
            "${ key }": ["${ n * 2 }", 3, None, True],
            "code": {"code": "return [start, n]"},
            "nested": {"code": "return 1", "other": "${ n }"},
        }
        assert resolve(value, self.SCOPE) == {
            "typed": 20240103,
            "text": "/out/20240105/",
            "${ key }": [4, 3, None, True],
            "code": [20240101, 2],
            "nested": {"code": "return 1", "other": 2},
        }

    def test_errors_carry_the_path(self) -> None:
        with pytest.raises(ExprError) as caught:
            resolve({"a": [1, "${ missing }"]}, self.SCOPE)
        assert caught.value.details["path"] == ".a[1]"
        assert "unknown name 'missing'" in caught.value.message

    def test_parses_are_cached(self) -> None:
        from podium.expr.resolve import parse_template

        parse_template.cache_clear()
        for _ in range(3):
            resolve("${ n + 1 }", self.SCOPE)
        assert parse_template.cache_info().hits == 2
