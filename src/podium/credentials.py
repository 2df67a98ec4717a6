"""Where the CLI finds the token it sends: ``PODIUM_TOKEN``, what ``podium login`` stored
for the server, or the admin token a server on this machine wrote for the user who
started it (as Jupyter does).

Files live under ``PODIUM_CONFIG_DIR`` (default ``$XDG_CONFIG_HOME/podium`` or
``~/.config/podium``), 0600 in a 0700 directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx


def config_dir() -> Path:
    explicit = os.environ.get("PODIUM_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "podium"


def credentials_file() -> Path:
    return config_dir() / "credentials.json"


def servers_dir() -> Path:
    return config_dir() / "servers"


def server_key(url: str) -> str:
    """``http://127.0.0.1:8080/`` -> ``http://127.0.0.1:8080``."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if host in ("localhost", "0.0.0.0"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme or 'http'}://{host}:{port}"


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(prefix=".tmp.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_private_text(path: Path) -> str | None:
    """The text of ``path`` if it is this user's and no one else may read it, else None."""
    try:
        info = path.stat()
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            return None  # someone else's, or readable by others: not trusted
        return path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None


def _read_private(path: Path) -> dict[str, Any] | None:
    text = read_private_text(path)
    try:
        value = json.loads(text) if text is not None else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def stored_tokens() -> dict[str, str]:
    found = _read_private(credentials_file()) or {}
    servers = found.get("servers")
    return {str(k): str(v) for k, v in servers.items()} if isinstance(servers, dict) else {}


def store_token(server: str, token: str) -> Path:
    tokens = stored_tokens()
    tokens[server_key(server)] = token
    path = credentials_file()
    write_private(path, json.dumps({"servers": tokens}, indent=2) + "\n")
    return path


def forget_token(server: str) -> bool:
    tokens = stored_tokens()
    if tokens.pop(server_key(server), None) is None:
        return False
    write_private(credentials_file(), json.dumps({"servers": tokens}, indent=2) + "\n")
    return True


def runtime_file(url: str) -> Path:
    name = server_key(url).replace("://", "_").replace(":", "_").replace("[", "").replace("]", "")
    return servers_dir() / f"{name}.json"


def write_server_file(url: str, token: str, token_file: Path) -> Path:
    """What a server started by this user tells this user's CLI: its URL and admin token."""
    path = runtime_file(url)
    write_private(
        path,
        json.dumps(
            {
                "url": server_key(url),
                "token": token,
                "token_file": str(token_file),
                "pid": os.getpid(),
            }
        )
        + "\n",
    )
    return path


def remove_server_file(url: str) -> None:
    with contextlib.suppress(OSError):
        runtime_file(url).unlink()


def token_for(server: str) -> str | None:
    """The token to send to ``server``, if this user has one."""
    explicit = os.environ.get("PODIUM_TOKEN")
    if explicit:
        return explicit.strip()
    key = server_key(server)
    stored = stored_tokens().get(key)
    if stored:
        return stored
    found = _read_private(runtime_file(server))
    if found and found.get("url") == key and isinstance(found.get("token"), str):
        return str(found["token"])
    return None


class ServerAuth(httpx.Auth):
    """httpx authentication with the token :func:`token_for` finds for ``url``, looked up at
    each request (waiting up to ``wait_s`` for it): a script's client made before the server
    it started is up still authenticates once it is."""

    def __init__(self, url: str, wait_s: float = 30.0) -> None:
        self.url = url
        self.wait_s = wait_s

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {server_token(self.url, self.wait_s)}"
        yield request


def server_token(url: str, wait_s: float = 30.0) -> str:
    """The token for ``url``, waiting up to ``wait_s`` for a server starting on this machine
    to write it."""
    deadline = time.monotonic() + wait_s
    while (token := token_for(url)) is None:
        if time.monotonic() > deadline:
            raise LookupError(f"no token for {url}: podium login, or set PODIUM_TOKEN")
        time.sleep(0.05)
    return token
