"""Every operation of the API fuzzed from its own OpenAPI schema (Schemathesis) against a real
``podium server`` subprocess, as an admin: no answer is a 500, none hangs, and the server's
memory stays bounded. The number of examples is bounded for CI (``PODIUM_FUZZ_EXAMPLES``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from podium.api.shedding import is_stream
from podium.credentials import token_for
from tests.support import free_port

from .test_durability import podium_process, wait_healthy

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("PODIUM_FUZZ_EXAMPLES", "20"))
MAX_RSS_BYTES = 1 << 30
"""The server's resident memory after the whole run: bounded, whatever it was sent."""


class Server:
    def __init__(self, url: str, pid: int, token: str) -> None:
        self.url = url
        self.pid = pid
        self.headers = {"Authorization": f"Bearer {token}"}

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with podium_process(["server", "--port", str(port)], home / "home", home / "log") as proc:
        wait_healthy(url, proc)
        token = token_for(url)
        assert token, "the server's admin token"
        server = Server(url, proc.pid, token)
        client = httpx.Client(base_url=url, headers=server.headers, timeout=10)
        pushed = client.post(
            "/api/v1/workflows", json={"yaml": "id: w\nsteps:\n  - {id: a, type: noop}\n"}
        )
        assert pushed.status_code == 201, pushed.text
        client.close()
        yield server
        assert proc.poll() is None, "the server died while it was fuzzed"
        assert server.rss_bytes() < MAX_RSS_BYTES


def test_no_request_is_answered_with_a_500_or_hangs(fuzzed: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json", headers=fuzzed.headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case: Any) -> None:
                problem = _problem(case, fuzzed)
                if problem:
                    failures.append(problem)

            try:
                fuzz()
            except Unsatisfiable:
                continue  # nothing of this operation can be made invalid (no params, no body)
    assert not failures, "\n".join(sorted(set(failures))[:30])


def _problem(case: Any, fuzzed: Server) -> str | None:
    """What is wrong with the server's answer to ``case``, or None."""
    where = f"{case.method} {case.formatted_path}"
    try:
        if is_stream(case.formatted_path):
            response = _stream_opening(case, fuzzed)
        else:
            response = case.call(base_url=fuzzed.url, headers=fuzzed.headers, timeout=15)
    except Exception as exc:  # a hang (timeout) or a dropped connection
        return f"{where}: no answer ({type(exc).__name__}: {exc})"
    if response.status_code >= 500:
        return f"{where} -> {response.status_code}: {response.text[:300]}"
    if response.status_code >= 400 and response.content:
        try:
            error = response.json().get("error", {})
        except ValueError:
            return f"{where} -> {response.status_code} that is not JSON: {response.text[:200]}"
        if not (error.get("code") and error.get("message")):
            return f"{where} -> {response.status_code} without the error shape"
        for leak in ("Traceback", "SELECT ", "sqlalchemy", "psycopg"):
            if leak in response.text:
                return f"{where} -> {response.status_code} shows {leak!r}"
    return None


def _stream_opening(case: Any, fuzzed: Server) -> httpx.Response:
    """An event stream never ends: its answer is its status and first frame (or its error)."""
    headers = {**{k: str(v) for k, v in (case.headers or {}).items()}, **fuzzed.headers}
    with (
        httpx.Client(base_url=fuzzed.url, timeout=15) as client,
        client.stream(
            case.method, case.formatted_path, params=case.query, headers=headers
        ) as response,
    ):
        if response.status_code == 200:
            assert next(response.iter_lines()) == "retry: 1000"
            return httpx.Response(200)
        response.read()
        return response
