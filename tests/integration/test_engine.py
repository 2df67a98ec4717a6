"""The engine end to end on SQLite and PostgreSQL: real database, real processes."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support import Podium


def test_dag_runs_in_dependency_order_with_outputs_and_params(
    podium: Podium, tmp_path: Path
) -> None:
    trace = tmp_path / "trace"
    podium.push(f"""
id: diamond
params: {{who: world, trace: "{trace}"}}
steps:
  - id: start
    type: script
    script: echo "start $PODIUM_PARAM_WHO" >> "$PODIUM_PARAM_TRACE"
  - id: left
    type: python
    depends_on: [start]
    outputs: [n]
    script: |
      from podium.job import set_output, params
      open(params()["trace"], "a").write("left\\n")
      set_output("n", 2)
  - id: right
    type: script
    depends_on: [start]
    params: {{who: step}}
    script: echo "right $PODIUM_PARAM_WHO" >> "$PODIUM_PARAM_TRACE"
  - id: join
    type: noop
    depends_on: [left, right]
  - id: last
    type: script
    depends_on: [join]
    script: echo last >> "$PODIUM_PARAM_TRACE"
""")
    iid = podium.run("diamond", {"who": "you"})
    doc = podium.wait("diamond", iid)
    assert doc["status"] == "SUCCEEDED", doc
    steps = podium.steps(doc)
    assert steps["left"]["outputs"] == {"n": 2}
    assert steps["right"]["params"]["who"] == "step"
    lines = trace.read_text().splitlines()
    assert lines[0] == "start you"
    assert set(lines[1:3]) == {"left", "right step"}
    assert lines[3] == "last"
    assert all(s["status"] == "SUCCEEDED" for s in doc["steps"])


def test_user_errors_are_retried_with_backoff_then_fail(podium: Podium) -> None:
    podium.push("""
id: flaky
steps:
  - id: fails
    type: script
    retries: {limit: 2, backoff: fixed, delay: 1s}
    script: |
      echo "attempt $PODIUM_ATTEMPT"
      exit 3
  - id: never
    type: noop
    depends_on: [fails]
""")
    started = time.monotonic()
    doc = podium.wait("flaky", podium.run("flaky"))
    elapsed = time.monotonic() - started
    assert doc["status"] == "FAILED"
    step = podium.steps(doc)["fails"]
    assert step["status"] == "FAILED"
    assert step["attempts"] == 3
    assert step["user_errors"] == 3 and step["platform_errors"] == 0
    assert step["error"]["kind"] == "user"
    assert "exit code 3" in step["error"]["message"]
    assert "attempt 3" in step["error"]["log_tail"]
    assert elapsed >= 2.0  # two back-offs of one second
    assert podium.steps(doc)["never"]["status"] == "CREATED"
    assert doc["error"]["step_id"] == "fails"


def test_a_retry_that_succeeds_ends_the_step_succeeded(podium: Podium) -> None:
    podium.push("""
id: second_time
steps:
  - id: flaky
    type: script
    retries: {limit: 3, delay: 1s}
    script: '[ "$PODIUM_ATTEMPT" -ge 2 ]'
""")
    doc = podium.wait("second_time", podium.run("second_time"))
    assert doc["status"] == "SUCCEEDED"
    step = podium.steps(doc)["flaky"]
    assert step["attempts"] == 2 and step["user_errors"] == 1


def test_step_timeout_kills_the_process_group(podium: Podium, tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild"
    podium.push(f"""
id: slow
steps:
  - id: hangs
    type: script
    timeout: 1s
    script: |
      sleep 300 &
      echo $! > {pidfile}
      wait
""")
    doc = podium.wait("slow", podium.run("slow"))
    assert doc["status"] == "FAILED"
    step = podium.steps(doc)["hangs"]
    assert step["status"] == "TIMED_OUT"
    assert step["error"]["kind"] == "timeout"
    grandchild = int(pidfile.read_text())
    assert not _alive(grandchild)


def test_instance_timeout_stops_running_steps(podium: Podium) -> None:
    podium.push("""
id: whole
timeout: 1s
steps:
  - id: long
    type: script
    script: sleep 60
""")
    started = time.monotonic()
    doc = podium.wait("whole", podium.run("whole"))
    assert doc["status"] == "TIMED_OUT"
    assert podium.steps(doc)["long"]["status"] == "STOPPED"
    assert time.monotonic() - started < 15


def test_on_failure_fail_lets_running_steps_finish(podium: Podium) -> None:
    podium.push("""
id: failmode
steps:
  - id: bad
    type: script
    script: exit 1
  - id: slow
    type: script
    script: sleep 1.5
  - id: after
    type: noop
    depends_on: [slow]
""")
    doc = podium.wait("failmode", podium.run("failmode"))
    steps = podium.steps(doc)
    assert doc["status"] == "FAILED"
    assert steps["bad"]["status"] == "FAILED"
    assert steps["slow"]["status"] == "SUCCEEDED"
    assert steps["after"]["status"] == "CREATED"


def test_on_failure_fail_fast_stops_the_others(podium: Podium) -> None:
    podium.push("""
id: failfast
steps:
  - id: bad
    type: script
    on_failure: fail_fast
    script: sleep 0.3; exit 1
  - id: slow
    type: script
    script: sleep 60
""")
    started = time.monotonic()
    doc = podium.wait("failfast", podium.run("failfast"))
    steps = podium.steps(doc)
    assert doc["status"] == "FAILED"
    assert steps["slow"]["status"] == "STOPPED"
    assert steps["slow"]["error"]["kind"] == "stopped"
    assert time.monotonic() - started < 15


def test_on_failure_ignore_continues(podium: Podium) -> None:
    podium.push("""
id: ignoring
steps:
  - id: bad
    type: script
    on_failure: ignore
    script: exit 4
  - id: after
    type: noop
    depends_on: [bad]
""")
    doc = podium.wait("ignoring", podium.run("ignoring"))
    steps = podium.steps(doc)
    assert doc["status"] == "SUCCEEDED"
    assert steps["bad"]["status"] == "COMPLETED_WITH_ERROR"
    assert steps["after"]["status"] == "SUCCEEDED"


def test_step_concurrency_caps_running_steps(podium: Podium, tmp_path: Path) -> None:
    log = tmp_path / "spans"
    steps = "\n".join(
        f"""  - id: s{i}
    type: script
    script: echo "start $(date +%s.%N)" >> {log}; sleep 0.4; echo "end $(date +%s.%N)" >> {log}"""
        for i in range(6)
    )
    podium.push(f"id: capped\nstep_concurrency: 2\nsteps:\n{steps}\n")
    doc = podium.wait("capped", podium.run("capped"))
    assert doc["status"] == "SUCCEEDED"
    events = sorted(
        (float(t), 1 if kind == "start" else -1)
        for kind, t in (line.split() for line in log.read_text().splitlines())
    )
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 2


def test_sleep_steps_hold_no_process(podium: Podium) -> None:
    steps = "\n".join(f"  - id: nap{i}\n    type: sleep\n    seconds: 1" for i in range(10))
    podium.push(f"id: naps\nstep_concurrency: 10\nsteps:\n{steps}\n")
    iid = podium.run("naps")
    podium.wait_step("naps", iid, "nap9", "RUNNING")
    assert podium.worker.supervisor.watching() == 0
    doc = podium.wait("naps", iid)
    assert doc["status"] == "SUCCEEDED"


def test_stop_kills_running_jobs_and_ends_stopped(podium: Podium) -> None:
    podium.push("""
id: stoppable
steps:
  - id: long
    type: script
    script: sleep 60
  - id: waits
    type: sleep
    seconds: 60
  - id: later
    type: noop
    depends_on: [long]
""")
    iid = podium.run("stoppable")
    podium.wait_step("stoppable", iid, "long", "RUNNING")
    response = podium.client.post(f"/api/v1/workflows/stoppable/instances/{iid}/stop")
    assert response.status_code == 200
    doc = podium.wait("stoppable", iid, timeout_s=15)
    steps = podium.steps(doc)
    assert doc["status"] == "STOPPED"
    assert steps["long"]["status"] == "STOPPED"
    assert steps["waits"]["status"] == "STOPPED"
    assert steps["later"]["status"] == "CREATED"


def test_missing_declared_output_fails_the_step(podium: Podium) -> None:
    podium.push("""
id: forgetful
steps:
  - id: promise
    type: python
    outputs: [rows]
    script: print("done")
""")
    doc = podium.wait("forgetful", podium.run("forgetful"))
    step = podium.steps(doc)["promise"]
    assert step["status"] == "FAILED"
    assert "rows" in step["error"]["message"]


def test_logs_are_readable_while_the_step_runs(podium: Podium) -> None:
    podium.push("""
id: chatty
steps:
  - id: talk
    type: script
    script: |
      echo first
      sleep 1
      echo second
""")
    iid = podium.run("chatty")
    url = f"/api/v1/workflows/chatty/instances/{iid}/steps/talk/logs"
    deadline = time.monotonic() + 10
    text = ""
    while "first" not in text:
        assert time.monotonic() < deadline
        text = podium.client.get(url).json()["text"]
        time.sleep(0.05)
    assert "second" not in text
    podium.wait("chatty", iid)
    final = podium.client.get(url).json()
    assert final["text"] == "first\nsecond\n"
    follow = podium.client.get(url, params={"offset": final["next_offset"]}).json()
    assert follow["complete"] is True and follow["text"] == ""


def test_versions_run_as_asked(podium: Podium) -> None:
    for n in (1, 2):
        podium.push(f"id: versioned\nsteps:\n  - id: v{n}\n    type: noop\n")
    assert podium.status("versioned", podium.run("versioned"))["version"] == 2
    podium.client.post("/api/v1/workflows/versioned/activate", json={"version": 1})
    iid = podium.run("versioned")
    doc = podium.wait("versioned", iid)
    assert doc["version"] == 1 and doc["steps"][0]["id"] == "v1"
    assert podium.status("versioned", podium.run("versioned", version=2))["version"] == 2
    podium.client.post("/api/v1/workflows/versioned/deactivate")
    refused = podium.client.post("/api/v1/workflows/versioned/instances", json={})
    assert refused.status_code == 409
    assert "inactive" in refused.json()["error"]["message"]


def test_idle_engine_does_no_work(podium: Podium) -> None:
    podium.push("id: idle\nsteps:\n  - id: a\n    type: noop\n")
    podium.wait("idle", podium.run("idle"))
    podium.settle()
    calls = _count_claims(podium, seconds=2.0)
    assert calls == 0


def _count_claims(podium: Podium, *, seconds: float) -> int:
    original = podium.worker.run_once
    calls = 0

    def counting() -> bool:
        nonlocal calls
        calls += 1
        return original()

    podium.worker.run_once = counting  # type: ignore[method-assign]
    try:
        time.sleep(seconds)
    finally:
        podium.worker.run_once = original  # type: ignore[method-assign]
    return calls


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_poisonous_work_row_is_set_aside_and_the_rest_goes_on(podium: Podium) -> None:
    import sqlalchemy as sa

    from podium.store.schema import work

    podium.push("id: healthy\nsteps:\n  - id: a\n    type: noop\n  - id: b\n    type: noop\n")
    first = podium.run("healthy")
    podium.wait("healthy", first)
    with podium.db.transaction() as conn:
        pk = conn.execute(sa.text("SELECT pk FROM instances WHERE instance_id = 1")).scalar_one()
        # A timer for a step the workflow does not have: processing it raises.
        conn.execute(
            work.insert().values(
                kind="sleep_done", instance_pk=pk, step_id="ghost", attempt=1, due_at=time.time()
            )
        )
    second = podium.run("healthy")
    assert podium.wait("healthy", second)["status"] == "SUCCEEDED"
    deadline = time.monotonic() + 10
    while True:
        with podium.db.read() as conn:
            row = conn.execute(
                sa.select(work.c.due_at, work.c.tries, work.c.lease_owner).where(
                    work.c.step_id == "ghost"
                )
            ).one()
        if row.tries >= 1 and row.lease_owner is None:
            break
        assert time.monotonic() < deadline, row
        time.sleep(0.05)
    assert row.due_at > time.time() + 1


def test_an_invalid_push_reports_every_problem_and_stores_nothing(podium: Podium) -> None:
    podium.push("id: kept\nsteps:\n  - id: a\n    type: noop\n")
    response = podium.client.post(
        "/api/v1/workflows",
        json={
            "yaml": """
id: kept
trigger: {cron: "61 * * * *"}
steps:
  - id: a
    type: noop
    depends_on: [b]
  - id: b
    type: noop
    depends_on: [a, lod]
    dependson: [a]
"""
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_definition"
    locations = {p["location"] for p in error["details"]["problems"]}
    assert {"trigger.cron", "steps", "steps[1]", "steps[1].depends_on"} <= locations
    versions = podium.client.get("/api/v1/workflows/kept/versions").json()["versions"]
    assert [v["version"] for v in versions] == [1]


def test_platform_errors_are_retried_under_their_own_limit(podium: Podium) -> None:
    # A NUL byte cannot go into a process's environment: the launch itself fails, which is
    # the platform's failure, not the user's, and is counted apart from user errors.
    podium.push("""
id: unlaunchable
params: {bad: ok}
steps:
  - id: a
    type: script
    retries: {limit: 5, platform_limit: 1, delay: 0s}
    script: echo never
""")
    doc = podium.wait("unlaunchable", podium.run("unlaunchable", {"bad": "x\u0000y"}))
    step = podium.steps(doc)["a"]
    assert doc["status"] == "FAILED"
    assert (step["attempts"], step["user_errors"], step["platform_errors"]) == (2, 0, 2)
    assert step["error"]["kind"] == "platform"
    assert "could not start the job" in step["error"]["message"]


def test_heartbeats_keep_a_long_job_leased(db_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from podium.store.schema import work
    from tests.support import running_podium

    with running_podium(db_url, tmp_path / "data", lease_s=1.0) as podium:
        podium.push("id: long\nsteps:\n  - id: a\n    type: script\n    script: sleep 3\n")
        iid = podium.run("long")
        podium.wait_step("long", iid, "a", "RUNNING")
        for _ in range(5):
            time.sleep(0.5)
            with podium.db.read() as conn:
                row = conn.execute(
                    sa.select(work.c.due_at, work.c.lease_owner).where(work.c.kind == "launch")
                ).one()
            assert row.lease_owner == podium.worker.worker_id
            assert row.due_at > time.time()
        doc = podium.wait("long", iid)
        assert podium.steps(doc)["a"]["attempts"] == 1
