"""Numbers a request or a definition may carry are bounded at the door: a clear 400, never a
500 with SQL in it, never a worker frozen by an infinite deadline. SQLite and PostgreSQL."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from tests.support import Podium

HUGE = str(2**70)

BAD_QUERIES = [
    ("GET", f"/api/v1/workflows/flow/instances/{HUGE}", "instance_id"),
    ("GET", "/api/v1/workflows/flow/instances/0", "instance_id"),
    ("GET", "/api/v1/workflows/flow/instances?limit=-1", "limit"),
    ("GET", "/api/v1/workflows/flow/instances?limit=100000000", "limit"),
    ("GET", f"/api/v1/workflows/flow/instances?before={HUGE}", "before"),
    ("GET", "/api/v1/workflows/flow/instances/1/steps/a/logs?offset=-1", "offset"),
    ("GET", f"/api/v1/workflows/flow/instances/1/steps/a/logs?attempt={HUGE}", "attempt"),
    ("GET", "/api/v1/workflows/flow/instances/1/timeline?after=-5", "after"),
    ("GET", "/api/v1/workflows/flow/instances/1/timeline?limit=0", "limit"),
    ("GET", f"/api/v1/workflows/flow/instances/1?iteration={HUGE}", "iteration"),
    ("POST", f"/api/v1/workflows/flow/instances/{HUGE}/stop", "instance_id"),
    ("POST", f"/api/v1/workflows/flow/instances/{HUGE}/restart", "instance_id"),
    ("GET", "/api/v1/signals?limit=-1", "limit"),
    ("GET", "/api/v1/workflows/flow/trigger-failures?limit=-1", "limit"),
]


@pytest.mark.parametrize(("method", "path", "name"), BAD_QUERIES)
def test_an_out_of_range_number_is_a_400_naming_it(
    podium: Podium, method: str, path: str, name: str
) -> None:
    podium.push("id: flow\nsteps:\n  - {id: a, type: noop}\n")
    response = podium.client.request(method, path)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and name in error["message"]
    for leak in ("SELECT", "sqlalchemy", "Traceback", "psycopg", "sqlite3"):
        assert leak not in response.text


def test_a_huge_instance_number_in_a_body_is_a_400(podium: Podium) -> None:
    podium.push("id: flow\nsteps:\n  - {id: a, type: noop}\n")
    breakpoint_body = {"step_id": "a", "instance_id": 2**70}
    response = podium.client.post("/api/v1/workflows/flow/breakpoints", json=breakpoint_body)
    assert response.status_code == 400, response.text
    activate = podium.client.post("/api/v1/workflows/flow/activate", json={"version": 2**70})
    assert activate.status_code == 400, activate.text


@pytest.mark.parametrize(
    ("yaml", "says"),
    [
        (
            "id: w\nsteps:\n  - {id: a, type: sleep, seconds: 1, timeout: " + "9" * 310 + "s}\n",
            "steps[0].timeout: duration '9999",
        ),
        ("id: w\nconcurrency: 18446744073709551616\nsteps:\n  - {id: a, type: noop}\n", "10000"),
        ("id: w\nstep_concurrency: 10001\nsteps:\n  - {id: a, type: noop}\n", "10000"),
        ("id: w\nsteps:\n  - {id: a, type: noop, retries: {limit: 1000000}}\n", "100"),
        ("id: w\nsteps:\n  - {id: a, type: noop, retries: {delay: 1000d}}\n", "at most 366d"),
        ("id: w\nsteps:\n  - {id: a, type: sleep, seconds: 1.0e+300}\n", "at most 31622400"),
        ("id: w\nsteps:\n  - {id: " + "a" * 65 + ", type: noop}\n", "at most 64 characters"),
    ],
)
def test_a_definition_with_an_unbounded_number_is_refused_at_push(
    podium: Podium, yaml: str, says: str
) -> None:
    response = podium.client.post("/api/v1/workflows", json={"yaml": yaml})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_definition"
    assert says in response.text


def test_a_cartesian_foreach_past_the_budget_fails_at_once_as_a_user_error(
    podium: Podium,
) -> None:
    podium.push(
        "id: cartesian\nsteps:\n  - id: fan\n    foreach:\n"
        "      over: {a: '${ range(4000) }', b: '${ range(2500) }'}\n"
        "      steps:\n        - {id: each, type: noop}\n"
    )
    doc = podium.wait("cartesian", podium.run("cartesian"), timeout_s=30)
    assert doc["status"] == "FAILED", doc
    error = podium.steps(doc)["fan"]["error"]
    assert error["kind"] == "user"
    assert "4,000 x 2,500 items make 10,000,000 iterations, more than 100,000" in error["message"]
    assert podium.steps(doc)["fan"].get("iterations", {}).get("launched", 0) == 0


def test_params_too_big_for_a_jobs_environment_are_a_user_error_not_retried(
    podium: Podium,
) -> None:
    podium.push(
        "id: big\nparams:\n  blob: {type: str}\nsteps:\n"
        "  - id: use\n    type: script\n    retries: {limit: 3, delay: 1s}\n"
        "    params: {huge: \"${ 'x' * 200000 }\"}\n    script: 'true'\n"
    )
    refused = podium.client.post(
        "/api/v1/workflows/big/instances", json={"params": {"blob": "y" * 200_000}}
    )
    assert refused.status_code == 400, refused.text
    assert "param 'blob' is 195 KiB, more than the 128 KiB" in refused.json()["error"]["message"]
    doc = podium.wait("big", podium.run("big", {"blob": "small"}), timeout_s=30)
    assert doc["status"] == "FAILED", doc
    step = podium.steps(doc)["use"]
    assert step["error"]["kind"] == "user" and step["attempts"] == 1
    assert "param 'huge' is 195 KiB" in step["error"]["message"]


def test_the_database_file_and_an_attempts_files_are_private(
    podium: Podium, db_url: str, tmp_path: Path
) -> None:
    podium.push("id: modes\nsteps:\n  - {id: a, type: script, script: 'echo hi'}\n")
    doc = podium.wait("modes", podium.run("modes"))
    assert doc["status"] == "SUCCEEDED", doc
    (attempt,) = (tmp_path / "data" / "attempts" / "modes" / "1" / "a").iterdir()
    assert stat.S_IMODE(attempt.stat().st_mode) in (0o700, 0o711)
    for name in ("log", "script"):
        assert stat.S_IMODE((attempt / name).stat().st_mode) & 0o007 == 0, name
    for name in ("work", "artifacts", "io"):
        assert stat.S_IMODE((attempt / name).stat().st_mode) == 0o700, name
    if db_url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            path = tmp_path / f"podium.db{suffix}"
            if path.exists():
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


POISONED = {
    "endless": "id: endless\nsteps:\n  - {id: a, type: sleep, seconds: 1, timeout: "
    + "9" * 310
    + "s}\n",
    "crowd": "id: crowd\nconcurrency: 18446744073709551616\nsteps:\n  - {id: a, type: noop}\n",
    "deep": "id: deep\nsteps: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "huge": "id: huge\nsteps:\n"
    + "".join(f"  - {{id: s{i}, type: noop}}\n" for i in range(40_000)),
}


def test_poisoned_workflows_next_to_a_healthy_one_leave_it_on_time(
    podium: Podium, tmp_path: Path
) -> None:
    """The worst of each kind, pushed and run beside a healthy workflow that still succeeds."""
    canary = tmp_path / "pwned"
    podium.push(
        "id: healthy\nsteps:\n"
        + "".join(
            f"  - {{id: s{i}, type: script, script: 'true'"
            + (f", depends_on: [s{i - 1}]}}\n" if i else "}\n")
            for i in range(5)
        )
    )
    for name, yaml in POISONED.items():
        refused = podium.client.post("/api/v1/workflows", json={"yaml": yaml})
        assert refused.status_code in (400, 413), (name, refused.text[:300])
    podium.push(
        "id: cartesian\nsteps:\n  - id: fan\n    foreach:\n"
        "      over: {a: '${ range(4000) }', b: '${ range(2500) }'}\n"
        "      steps:\n        - {id: each, type: noop}\n"
    )
    podium.push(
        "id: injected\nparams:\n  x: {type: str}\nsteps:\n"
        '  - {id: a, type: script, script: "echo ${ x }; echo \'${ x }\'; echo \\"${ x }\\""}\n'
    )
    podium.push(
        "id: heavy\nsteps:\n  - id: a\n    type: script\n    params: {big: \"${ 'x' * 200000 }\"}\n"
        "    script: 'true'\n"
    )
    started = time.monotonic()
    healthy = podium.run("healthy")
    poisoned = {
        "cartesian": podium.run("cartesian"),
        "injected": podium.run("injected", {"x": f"$(touch {canary})`touch {canary}`"}),
        "heavy": podium.run("heavy"),
    }
    doc = podium.wait("healthy", healthy, timeout_s=60)
    took = time.monotonic() - started
    assert doc["status"] == "SUCCEEDED", doc
    assert took < 30, f"the healthy workflow took {took:.1f} s beside the poisoned ones"
    ended = {name: podium.wait(name, iid, timeout_s=60)["status"] for name, iid in poisoned.items()}
    assert ended == {"cartesian": "FAILED", "injected": "SUCCEEDED", "heavy": "FAILED"}
    assert not canary.exists()
    assert podium.client.get("/api/v1/health").json()["status"] == "ok"
