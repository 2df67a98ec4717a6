"""Secret params without a server: declarations, masking, sealing, the job's files after it
ended, and a live log read that never shows a secret by halves."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

import pytest

from podium.definition.params import declaration, declaration_problems, secret_names
from podium.definition.templates import parse_parameters
from podium.engine import params
from podium.errors import InvalidInput
from podium.expr import Budgets
from podium.jobs.logs import read_log
from podium.jobs.scrub import scrub_attempt
from podium.vault import Keyring, Redactor, VaultError
from podium.vault.params import hidden_strings, mask_params, open_params, seal_params

SECRET = "hunter2-is-long-enough"


def keyring() -> Keyring:
    return Keyring({"k1": secrets.token_bytes(32)}, "k1")


def test_a_secret_is_declared_without_a_default_and_its_value_is_never_quoted() -> None:
    assert declaration_problems("pw", {"type": "str", "secret": True}) == []
    assert declaration_problems("pw", {"secret": True, "required": True}) == []
    (problem,) = declaration_problems("pw", {"type": "str", "secret": True, "default": "x1234"})
    assert "a secret param has no default" in problem and "x1234" not in problem
    assert declaration_problems("pw", {"secret": "yes"}) == ["secret must be true or false"]
    assert secret_names({"pw": {"secret": True}, "day": {"type": "int"}, "x": 3}) == {"pw"}
    refused = params.type_problem(declaration("pw", {"type": "int", "secret": True}), SECRET)
    assert refused == "param 'pw' must be of type int, not str"
    shown = params.type_problem(declaration("n", {"type": "int"}), "abc")
    assert shown is not None and "'abc'" in shown


def test_a_run_with_a_wrong_secret_is_refused_without_echoing_it() -> None:
    trigger: dict[str, Any] = {"type": "manual"}
    run = params.run_namespace(workflow_id="wf", instance_id=1, version=1, trigger=trigger, at=0.0)
    with pytest.raises(InvalidInput) as caught:
        params.resolve_run_params(
            {"pw": {"type": "int", "secret": True}},
            {"pw": SECRET},
            run=run,
            signal=params.signal_namespace(trigger),
            budgets=Budgets(),
        )
    assert SECRET not in caught.value.message and "must be of type int" in caught.value.message


def test_a_template_cannot_declare_a_secret() -> None:
    _, problems = parse_parameters({"pw": {"type": "str", "secret": True}})
    assert problems and "belongs in the params of a workflow" in problems[0]


def test_secrets_and_the_values_holding_them_are_masked_and_sealed() -> None:
    real = {"pw": SECRET, "user": "etl", "dsn": f"pg://etl:{SECRET}@db", "pin": None, "n": 3}
    shown, sealed = seal_params(keyring, "wf", real, {"pw", "pin"})
    assert shown == {
        "pw": "[secret]",
        "user": "etl",
        "dsn": "pg://etl:" + "*" * len(SECRET) + "@db",
        "pin": None,
        "n": 3,
    }
    assert sealed is not None and SECRET not in sealed
    ring = keyring()
    shown, sealed = seal_params(lambda: ring, "wf", real, {"pw"})
    assert sealed is not None
    opened, found = open_params(ring, "wf", shown, sealed)
    assert opened == real and SECRET in found.hide
    assert found.redactor.text(f"x {SECRET} y") == "x " + "*" * len(SECRET) + " y"
    with pytest.raises(VaultError):  # bound to its workflow: moved to another, it fails
        open_params(ring, "other", shown, sealed)


def test_nothing_secret_needs_no_key_and_inherited_strings_stay_hidden() -> None:
    def no_keys() -> Keyring:
        raise AssertionError("no key is needed when nothing is secret")

    assert seal_params(no_keys, "wf", {"a": 1, "pw": None}, {"pw"}) == ({"a": 1, "pw": None}, None)
    shown, secrets_ = mask_params({"token": SECRET, "a": 1}, (), hide=[SECRET])
    assert shown == {"token": "*" * len(SECRET), "a": 1}
    assert secrets_ is not None and secrets_.values == {"token": SECRET}


def test_a_structured_or_numeric_secret_hides_each_of_its_parts() -> None:
    assert hidden_strings({"user": "etl", "password": SECRET, "port": 5432}) == {
        "etl",
        SECRET,
        "5432",
    }
    assert hidden_strings(None) == set() and hidden_strings(True) == set()


def attempt(tmp_path: Path) -> Path:
    root = tmp_path / "attempt"
    for sub in ("io", "artifacts", "work"):
        (root / sub).mkdir(parents=True)
    (root / "io" / "params.json").write_text(json.dumps({"pw": SECRET}))
    (root / "io" / "outputs.json").write_text(json.dumps({"echo": SECRET}))
    (root / "log").write_text(f"pw={SECRET}\n")
    (root / "script").write_text(f"echo {SECRET}\n")
    (root / "artifacts" / "report.ipynb").write_text(json.dumps({"source": f"pw = '{SECRET}'"}))
    (root / "artifacts" / "data.bin").write_text(SECRET)
    return root


def test_after_a_job_its_params_file_goes_and_its_files_are_masked(tmp_path: Path) -> None:
    root = attempt(tmp_path)
    scrub_attempt(root, Redactor.of([SECRET]))
    assert not (root / "io" / "params.json").exists()
    for name in ("io/outputs.json", "log", "script", "artifacts/report.ipynb"):
        text = (root / name).read_text()
        assert SECRET not in text and "*" * len(SECRET) in text, name
    assert json.loads((root / "io" / "outputs.json").read_text())["echo"].startswith("*")
    assert (root / "artifacts" / "data.bin").read_text() == SECRET  # the job's own file
    scrub_attempt(root, Redactor.of([SECRET]))  # again, after a takeover: nothing breaks


def test_without_secrets_only_the_params_file_goes(tmp_path: Path) -> None:
    root = attempt(tmp_path)
    scrub_attempt(root, None)
    assert not (root / "io" / "params.json").exists()
    assert SECRET in (root / "log").read_text()


def test_a_job_cannot_aim_the_masking_at_files_that_are_not_its_own(tmp_path: Path) -> None:
    root = attempt(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.ipynb").write_text(SECRET)
    (outside / "outputs.json").write_text(SECRET)
    os.link(outside / "outputs.json", root / "io" / "milestones.jsonl")
    shutil.rmtree(root / "artifacts")
    os.symlink(outside, root / "artifacts")
    scrub_attempt(root, Redactor.of([SECRET]))
    assert (outside / "victim.ipynb").read_text() == SECRET
    assert (outside / "outputs.json").read_text() == SECRET


def test_a_growing_log_is_masked_and_never_shows_a_secret_by_halves(tmp_path: Path) -> None:
    root = tmp_path / "attempt"
    root.mkdir()
    redactor = Redactor.of([SECRET])
    log = root / "log"
    log.write_text("before " + SECRET[:6])  # the job is writing the secret right now
    text, offset = read_log(root, 0, redactor=redactor, growing=True)
    assert SECRET[:6] not in text and text == "before "[: len(text)]
    with log.open("a") as f:
        f.write(SECRET[6:] + " after, and more than the secret is long\n")
    rest, end = read_log(root, offset, redactor=redactor, growing=True)
    whole = text + rest
    assert SECRET not in whole and "before " + "*" * len(SECRET) in whole
    final, _ = read_log(root, end, redactor=redactor, growing=False)
    assert SECRET not in final
    assert (whole + final).endswith("long\n")
    # Pages cut anywhere are each masked, with the secret cut by their edges too.
    pieces, at = [], 0
    while True:
        piece, at = read_log(root, at, max_bytes=5, redactor=redactor)
        if not piece:
            break
        pieces.append(piece)
    assert "".join(pieces) == redactor.text(log.read_text())
