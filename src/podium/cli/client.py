"""The HTTP client of the CLI: the public REST API and nothing else.

API failures become :class:`ApiError` (with the stable ``code`` the server sent) and a server that
does not answer becomes :class:`ServerUnreachable`, so commands never see raw HTTP.
"""

from __future__ import annotations

import getpass
import json
import random
import time
from collections.abc import Callable, Generator
from typing import Any
from urllib.parse import quote

import httpx
from httpx_sse import connect_sse

from podium.credentials import token_for

DEFAULT_SERVER = "http://127.0.0.1:8080"
API_PREFIX = "/api/v1"


class CliError(Exception):
    """An error the CLI reports as ``error: <message>`` and turns into an exit code."""

    def __init__(
        self, message: str, *, exit_code: int = 1, problems: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.problems = problems or []


class ServerUnreachable(CliError):
    def __init__(self, server: str) -> None:
        super().__init__(
            f"cannot reach the Podium server at {server}: start one with `podium server` "
            "or set --server/PODIUM_SERVER",
            exit_code=1,
        )
        self.server = server


class ApiError(CliError):
    """An error answer of the API; HTTP 400 is bad input (exit 2), anything else exit 1."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        problems: list[dict[str, str]] | None = None,
    ) -> None:
        if status in (401, 403):
            message = f"{status} {'unauthenticated' if status == 401 else 'forbidden'}: {message}"
        super().__init__(message, exit_code=2 if status == 400 else 1, problems=problems)
        self.status = status
        self.code = code


def quote_segment(value: str) -> str:
    return quote(value, safe="")


class PodiumClient:
    """A thin synchronous client of ``/api/v1``; one instance per CLI invocation."""

    def __init__(self, server: str, *, timeout_s: float = 30.0, token: str | None = None) -> None:
        self.server = server.rstrip("/")
        # The token names the caller; X-Podium-User names it only to a server that runs
        # with authentication off (PODIUM_AUTH=none).
        user = _os_user()
        headers = {"X-Podium-User": user} if user else {}
        token = token_for(self.server) if token is None else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._headers = headers
        self._timeout_s = timeout_s
        self._http = httpx.Client(base_url=self.server, timeout=timeout_s, headers=headers)

    def close(self) -> None:
        self._http.close()

    def follow_events(
        self,
        workflow_id: str,
        instance_id: str | None,
        *,
        after: int | None = None,
        on_open: Callable[[], None] = lambda: None,
    ) -> Generator[dict[str, Any], None, None]:
        """The workflow's (or the instance's) events as they come, each the envelope of an
        event sink (``id``, ``topic``, ``key``, ``payload``); ``on_open`` is called once the
        server follows for us. Ends when the server ends the stream; ApiError if it refuses.
        """
        params: dict[str, Any] = {} if instance_id is None else {"instance": instance_id}
        if after is not None:
            params["after"] = after
        path = f"{API_PREFIX}/workflows/{quote_segment(workflow_id)}/events"
        # Its own connection: a stream is read from a thread while requests go on.
        with httpx.Client(
            base_url=self.server, timeout=self._timeout_s, headers=self._headers
        ) as http:
            try:
                with connect_sse(http, "GET", path, params=params) as source:
                    if source.response.status_code >= 400:
                        source.response.read()
                        raise _api_error(source.response)
                    for event in source.iter_sse():
                        if event.event == "behind":
                            return  # the server ended it: follow again from the last id
                        if not event.data:
                            on_open()  # the stream's first frame (retry:) says it is live
                            continue
                        yield json.loads(event.data)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise ServerUnreachable(self.server) from exc
            except httpx.TransportError as exc:
                raise CliError(f"the event stream of {self.server} broke: {exc}") from exc

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._request("GET", path, params=params)

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._request("POST", path, json=body if body is not None else {})

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("PUT", path, json=body)

    def patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._request("PATCH", path, json=body)

    def put_bytes(
        self, path: str, content: bytes, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """PUT ``content`` as it is (``application/octet-stream``), not as JSON."""
        headers = {"Content-Type": "application/octet-stream"}
        return self._request("PUT", path, content=content, params=params, headers=headers)

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        for attempt in range(OVERLOAD_RETRIES + 1):
            try:
                response = self._http.request(method, API_PREFIX + path, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise ServerUnreachable(self.server) from exc
            except httpx.TransportError as exc:
                raise CliError(
                    f"the Podium server at {self.server} failed to answer: {exc}"
                ) from exc
            if response.status_code != 429 or attempt == OVERLOAD_RETRIES:
                break
            # Shed before anything was done: the same request is safe to send again.
            time.sleep(_retry_after(response) * (1 + random.random() / 2))
        if response.status_code >= 400:
            raise _api_error(response)
        try:
            document = response.json()
        except ValueError as exc:
            raise CliError(
                f"the server at {self.server} sent an answer that is not JSON; "
                "is it a Podium server?"
            ) from exc
        if not isinstance(document, dict):
            raise CliError(f"the server at {self.server} sent an unexpected answer")
        return document

    # The API, one method per endpoint the CLI uses.

    def health(self) -> dict[str, Any]:
        return self.get("/health")

    def push_workflow(self, yaml_text: str, *, active: bool) -> dict[str, Any]:
        return self.post("/workflows", {"yaml": yaml_text, "active": active})

    def put_asset(self, name: str, content: bytes, *, owner: str | None = None) -> dict[str, Any]:
        params = {"owner": owner} if owner is not None else None
        return self.put_bytes(f"/assets/{quote_segment(name)}", content, params)

    def workflow_info(self, workflow_id: str) -> dict[str, Any]:
        return self.get(f"/workflows/{quote_segment(workflow_id)}")

    def activate(self, workflow_id: str, version: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {} if version is None else {"version": version}
        return self.post(f"/workflows/{quote_segment(workflow_id)}/activate", body)

    def deactivate(self, workflow_id: str) -> dict[str, Any]:
        return self.post(f"/workflows/{quote_segment(workflow_id)}/deactivate")

    def start_instance(
        self, workflow_id: str, version: int | str | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"params": params}
        if version is not None:
            body["version"] = version
        return self.post(f"/workflows/{quote_segment(workflow_id)}/instances", body)

    def dry_run(
        self, workflow_id: str, version: int | str | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"params": params}
        if version is not None:
            body["version"] = version
        return self.post(f"/workflows/{quote_segment(workflow_id)}/dry-run", body)

    def list_instances(self, workflow_id: str, *, limit: int) -> list[dict[str, Any]]:
        document = self.get(f"/workflows/{quote_segment(workflow_id)}/instances", {"limit": limit})
        instances: list[dict[str, Any]] = document.get("instances", [])
        return instances

    def instance(self, workflow_id: str, instance_id: str) -> dict[str, Any]:
        return self.get(self._instance_path(workflow_id, instance_id))

    def iteration(
        self, workflow_id: str, instance_id: str, step_id: str, iteration: int
    ) -> dict[str, Any]:
        path = self._instance_path(workflow_id, instance_id)
        return self.get(path, {"step": step_id, "iteration": iteration})

    def delete(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._request("DELETE", path, params=params)

    def restart_instance(
        self, workflow_id: str, instance_id: str, from_step: str | None, params: dict[str, Any]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"params": params}
        if from_step is not None:
            body["from"] = from_step
        return self.post(self._instance_path(workflow_id, instance_id) + "/restart", body)

    def set_breakpoint(
        self, workflow_id: str, step_id: str, instance_id: int | None
    ) -> dict[str, Any]:
        body = {"step_id": step_id, "instance_id": instance_id}
        return self.post(f"/workflows/{quote_segment(workflow_id)}/breakpoints", body)

    def clear_breakpoint(
        self, workflow_id: str, step_id: str, instance_id: int | None
    ) -> dict[str, Any]:
        path = f"/workflows/{quote_segment(workflow_id)}/breakpoints/{quote_segment(step_id)}"
        return self.delete(path, {"instance_id": instance_id} if instance_id else None)

    def list_breakpoints(self, workflow_id: str) -> dict[str, Any]:
        return self.get(f"/workflows/{quote_segment(workflow_id)}/breakpoints")

    def resume_step(self, workflow_id: str, instance_id: str, step_id: str) -> dict[str, Any]:
        path = self._instance_path(workflow_id, instance_id)
        return self.post(f"{path}/steps/{quote_segment(step_id)}/resume")

    def stop_instance(self, workflow_id: str, instance_id: str) -> dict[str, Any]:
        return self.post(self._instance_path(workflow_id, instance_id) + "/stop")

    def step_logs(
        self,
        workflow_id: str,
        instance_id: str,
        step_id: str,
        *,
        offset: int,
        attempt: int | None,
        iterations: tuple[int, ...] = (),
    ) -> dict[str, Any]:
        """``step_id`` may be a path into foreach iterations and subworkflows
        (``load.aggregate``), ``iterations`` then the iteration of each foreach on it."""
        params: dict[str, Any] = {"offset": offset}
        if attempt is not None:
            params["attempt"] = attempt
        if iterations:
            params["iteration"] = list(iterations)
        path = (
            f"{self._instance_path(workflow_id, instance_id)}/steps/{quote_segment(step_id)}/logs"
        )
        return self.get(path, params)

    def instance_timeline(
        self,
        workflow_id: str,
        instance_id: str,
        *,
        step_id: str | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"after": after, "limit": limit}
        if step_id is not None:
            params["step"] = step_id
        return self.get(self._instance_path(workflow_id, instance_id) + "/timeline", params)

    @staticmethod
    def _instance_path(workflow_id: str, instance_id: str) -> str:
        return f"/workflows/{quote_segment(workflow_id)}/instances/{quote_segment(instance_id)}"


def _os_user() -> str | None:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        return None
    return user if user.isascii() and user.isprintable() else None


OVERLOAD_RETRIES = 10
"""How often a request the server shed (429) is sent again, after its Retry-After."""


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.1), 10.0)
    except ValueError:
        return 1.0


def _api_error(response: httpx.Response) -> ApiError:
    status = response.status_code
    try:
        document = response.json()
    except ValueError:
        document = None
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        text = response.text.strip()[:200] or response.reason_phrase
        return ApiError(status, "http_error", f"the server answered HTTP {status}: {text}")
    details = error.get("details") or {}
    problems = details.get("problems") if isinstance(details, dict) else None
    return ApiError(
        status,
        str(error.get("code", "error")),
        str(error.get("message", f"HTTP {status}")),
        [p for p in problems if isinstance(p, dict)] if isinstance(problems, list) else None,
    )
