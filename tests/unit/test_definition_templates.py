"""Template declarations and the push-time checks of template steps, without a server."""

from __future__ import annotations

from typing import get_args

import pytest

from podium.definition import check_text
from podium.definition.model import StepType
from podium.definition.templates import (
    BUILT_IN_TYPES,
    OPEN_CATALOG,
    TemplateCatalog,
    shipped_templates,
    template_from_yaml,
)
from podium.engine.plan import compile_plan
from podium.errors import InvalidInput


def test_the_built_in_types_are_the_model_s() -> None:
    assert get_args(StepType) == BUILT_IN_TYPES


def test_sql_and_spark_ship_with_their_parameters() -> None:
    shipped = shipped_templates()
    assert shipped["sql"].parameter("query") is not None
    assert shipped["sql"].parameter("query").required  # type: ignore[union-attr]
    assert shipped["spark"].parameter("master").default == "local[*]"  # type: ignore[union-attr]
    assert "def main()" in shipped["sql"].script


def test_a_template_yaml_lists_every_problem() -> None:
    with pytest.raises(InvalidInput) as caught:
        template_from_yaml("name: noop\nparamters: {}\nparameters: {a: {type: text}}", None)
    message = caught.value.message
    assert "built-in step type" in message
    assert "unknown key 'paramters' (did you mean 'parameters'?)" in message
    assert "unknown type 'text'" in message
    assert "script" in message


def test_a_template_step_compiles_to_a_job_that_names_its_template() -> None:
    wf, problems = check_text("id: w\nsteps: [{id: q, type: sql, params: {query: select 1}}]")
    assert wf is not None, problems
    step = compile_plan("w", 1, wf.model_dump(by_alias=True, exclude_none=True)).steps["q"]
    assert step.type == "sql" and step.job == {"template": "sql"} and step.takes_permits


def test_expressions_are_not_type_checked_at_push() -> None:
    text = "id: w\nsteps: [{id: q, type: sql, params: {query: x, sample: '${ 1 + 1 }'}}]"
    assert check_text(text)[1] == []


def test_push_leaves_unknown_templates_to_the_server_but_checks_shipped_ones() -> None:
    unknown = "id: w\nsteps: [{id: q, type: greet, params: {who: x}}]"
    assert check_text(unknown, templates=OPEN_CATALOG)[1] == []
    bad_sql = "id: w\nsteps: [{id: q, type: sql, params: {qery: x}}]"
    assert check_text(bad_sql, templates=OPEN_CATALOG)[1]


def test_a_server_catalog_knows_its_registered_templates() -> None:
    greet = template_from_yaml("name: greet\nscript: print(1)\nparameters: {who: {}}", None)
    catalog = TemplateCatalog({"greet": greet}, where="on this server")
    inner = "id: w\nsteps: [{id: f, foreach: {over: {a: [1]}, steps: [{id: g, type: greet}]}}]"
    assert check_text(inner, templates=catalog)[1] == []
    typo = check_text("id: w\nsteps: [{id: g, type: gret}]", templates=catalog)[1]
    assert typo[0].location == "steps[0].type"
    assert "(did you mean 'greet'?)" in typo[0].message
    assert "templates on this server: 'greet', 'spark', 'sql'" in typo[0].message
