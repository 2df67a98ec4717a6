"""A step's ``assets:``: names checked, kept in canonical YAML and in the plan; files named
next to the workflow are resolved by the loader that runs beside them, refused by the server."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.definition import canonical_yaml, check_text, definition_json, load_workflow
from podium.definition.assets import MAX_ASSET_BYTES, AssetFile, resolve_asset_files
from podium.definition.yaml_text import load_yaml
from podium.engine.plan import compile_plan

STEP = "id: wf\nsteps:\n  - id: a\n    type: script\n    script: 'true'\n    assets: {assets}\n"


def problems_of(text: str, base_dir: Path | None = None) -> list[str]:
    _, problems = check_text(text, base_dir=base_dir)
    return [str(p) for p in problems]


def test_names_are_kept_in_canonical_yaml_and_reach_the_plan() -> None:
    wf = load_workflow(STEP.format(assets="[db-password, tls.pem]"))
    assert wf.steps[0].assets == ["db-password", "tls.pem"]
    text = canonical_yaml(wf)
    assert "    assets:\n      - db-password\n      - tls.pem\n" in text
    assert load_workflow(text) == wf
    plan = compile_plan("wf", 1, definition_json(wf))
    assert plan.steps["a"].assets == ("db-password", "tls.pem")
    bare = load_workflow(STEP.replace("    assets: {assets}\n", ""))
    assert "assets" not in canonical_yaml(bare)
    assert compile_plan("wf", 1, definition_json(bare)).steps["a"].assets == ()


@pytest.mark.parametrize(
    ("assets", "expected"),
    [
        ("[../etc]", "bad asset name '../etc'"),
        ("[a/b]", "bad asset name 'a/b'"),
        ("[.hidden]", "bad asset name '.hidden'"),
        ("[x, x]", "steps[0].assets[1]: asset 'x' is listed twice (first at steps[0].assets[0])"),
        ("[{name: x}]", "an asset is its name, or {name: NAME, file: PATH}"),
        ("[{name: x, file: f, mode: 1}]", "unknown key 'mode'"),
    ],
)
def test_bad_asset_entries_are_refused_with_what_to_write(assets: str, expected: str) -> None:
    found = problems_of(STEP.format(assets=assets))
    assert any(expected in p for p in found), found


@pytest.mark.parametrize(
    "step",
    [
        "{id: a, type: noop, assets: [x]}",
        "{id: a, type: sleep, seconds: 1, assets: [x]}",
        "{id: a, subworkflow: {workflow: other}, assets: [x]}",
        "{id: a, foreach: {over: {i: [1]}, steps: [{id: b, type: noop}]}, assets: [x]}",
    ],
)
def test_only_job_steps_take_assets(step: str) -> None:
    found = problems_of(f"id: wf\nsteps:\n  - {step}\n")
    assert any("only a step that runs a job" in p for p in found), found


def test_a_step_inside_a_foreach_takes_assets() -> None:
    text = (
        "id: wf\nsteps:\n  - id: loop\n    foreach:\n      over: {i: [1, 2]}\n      steps:\n"
        "        - {id: b, type: script, script: 'true', assets: [x]}\n"
    )
    wf = load_workflow(text)
    plan = compile_plan("wf", 1, definition_json(wf))
    loop = plan.steps["loop"].foreach
    assert loop is not None and loop.inner.steps["b"].assets == ("x",)


def test_a_file_entry_is_refused_without_the_workflow_file_beside_it() -> None:
    found = problems_of(STEP.format(assets="[{name: cfg, file: cfg.txt}]"))
    assert len(found) == 1 and found[0].startswith("steps[0].assets[0]: ")
    assert "uploaded by the CLI" in found[0] and "podium asset put NAME FILE" in found[0]


def test_a_file_entry_beside_the_workflow_becomes_its_name(tmp_path: Path) -> None:
    (tmp_path / "cfg.txt").write_text("x = 1\n")
    text = STEP.format(assets="[{name: cfg, file: cfg.txt}, plain]")
    wf = load_workflow(text, base_dir=tmp_path)
    assert wf.steps[0].assets == ["cfg", "plain"]
    assert "cfg.txt" not in canonical_yaml(wf)
    data, _ = load_yaml(text)
    _, files, problems = resolve_asset_files(data, tmp_path)
    assert problems == []
    assert files == [AssetFile("cfg", tmp_path / "cfg.txt", "steps[0].assets[0]")]


def test_a_file_entry_must_name_a_readable_small_file(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with (tmp_path / "big").open("wb") as big:
        big.truncate(MAX_ASSET_BYTES + 1)
    for file, expected in (
        ("missing.txt", "asset file 'missing.txt' not found (looked for"),
        ("dir", "asset file 'dir' is not a regular file"),
        ("big", f"an asset is at most {MAX_ASSET_BYTES} bytes"),
    ):
        found = problems_of(STEP.format(assets=f"[{{name: x, file: {file}}}]"), tmp_path)
        assert len(found) == 1 and found[0].startswith("steps[0].assets[0].file: "), found
        assert expected in found[0], found


def test_one_name_one_file(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    text = (
        "id: wf\nsteps:\n"
        "  - {id: one, type: script, script: 'true', assets: [{name: x, file: a}]}\n"
        "  - {id: two, type: script, script: 'true', assets: [{name: x, file: b}]}\n"
        "  - {id: three, type: script, script: 'true', assets: [{name: x, file: ./a}]}\n"
    )
    found = problems_of(text, tmp_path)
    assert len(found) == 1 and found[0].startswith("steps[1].assets[0]: asset 'x' is given"), found
