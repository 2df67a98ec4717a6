"""Webhook URLs an author or caller names go only where ``PODIUM_WEBHOOK_ALLOW`` allows, and
never into the server's own network unless a prefix names the address itself."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from podium.errors import InvalidInput
from podium.events.allowlist import (
    ALLOW_SETTING,
    allowed_prefixes_from_env,
    check_outbound_url,
    resolve_host,
)

HOOKS = ("https://hooks.example.com/",)
PUBLIC = "93.184.215.14"


class FakeDns:
    """Answers from a table, and counts lookups (a send-time check must look again)."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append(host)
        if host not in self.table:
            raise OSError(f"unknown host {host}")
        return self.table[host]


def public_dns() -> FakeDns:
    return FakeDns({"hooks.example.com": [PUBLIC], "evil": [PUBLIC], "evil.test": [PUBLIC]})


def refusal(url: str, allow: Sequence[str], dns: FakeDns | None = None) -> str:
    with pytest.raises(InvalidInput) as caught:
        check_outbound_url(url, allow, resolve=dns or public_dns())
    return caught.value.message


def test_an_allowed_prefix_passes() -> None:
    dns = public_dns()
    check_outbound_url("https://hooks.example.com/team/x?token=1", HOOKS, resolve=dns)
    check_outbound_url("https://HOOKS.example.com.:443/team", HOOKS, resolve=dns)
    assert dns.lookups == ["hooks.example.com", "hooks.example.com"]


def test_nothing_is_allowed_by_default() -> None:
    message = refusal("https://hooks.example.com/x", ())
    assert ALLOW_SETTING in message
    assert "empty" in message


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com.evil.test/",
        "https://hooks.example.com@evil/",
        "https://hooks.example.com:443@evil/",
        "https://hooks.example.com%2f@evil/",
        "https://evil#@hooks.example.com/",
        "https://evil?@hooks.example.com/",
        "http://hooks.example.com/",
        "https://hooks.example.com:8443/",
        "https://hooks.example.com/a/../../",
    ],
)
def test_lookalikes_do_not_match(url: str) -> None:
    message = refusal(url, ("https://hooks.example.com/a/",))
    assert ALLOW_SETTING in message


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com\\@evil/",
        "https://hooks.example.com /x",
        "https://hooks.example.com/a/%2e%2e/b",
        "https://hooks.example.com/a%2F..%2Fb",
        "ftp://hooks.example.com/",
        "https:///x",
        "not a url",
    ],
)
def test_unclear_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_outbound_url(url, HOOKS, resolve=public_dns())


def test_a_prefix_without_a_slash_matches_whole_segments_only() -> None:
    allow = ("https://hooks.example.com/team",)
    dns = public_dns()
    check_outbound_url("https://hooks.example.com/team", allow, resolve=dns)
    check_outbound_url("https://hooks.example.com/team/x", allow, resolve=dns)
    refusal("https://hooks.example.com/team-evil", allow)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.0.0.1:8080/x",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
    ],
)
def test_internal_addresses_are_refused_when_no_prefix_names_them(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_outbound_url(url, HOOKS, resolve=public_dns())
    assert ALLOW_SETTING in caught.value.message


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "169.254.169.254", "10.0.0.7", "fd00::1", "::ffff:10.0.0.1"]
)
def test_a_name_resolving_to_an_internal_address_is_refused(address: str) -> None:
    dns = FakeDns({"hooks.example.com": [PUBLIC, address]})
    message = refusal("https://hooks.example.com/x", HOOKS, dns)
    assert "internal address" in message
    assert ALLOW_SETTING in message


def test_dns_rebinding_is_caught_at_send_time() -> None:
    dns = public_dns()
    check_outbound_url("https://hooks.example.com/x", HOOKS, resolve=dns)  # at push time
    dns.table["hooks.example.com"] = ["127.0.0.1"]
    assert "internal address 127.0.0.1" in refusal("https://hooks.example.com/x", HOOKS, dns)


def test_an_unresolvable_host_is_refused() -> None:
    assert "does not resolve" in refusal("https://hooks.example.com/x", HOOKS, FakeDns({}))


def test_an_internal_address_named_in_a_prefix_is_allowed() -> None:
    refusal("http://localhost:9000/hook", HOOKS, FakeDns({"localhost": ["127.0.0.1"]}))
    # an operator who wrote the address itself meant it; no DNS is asked
    dns = FakeDns({})
    check_outbound_url("http://127.0.0.1:9000/hook", ("http://127.0.0.1:9000/",), resolve=dns)
    check_outbound_url("http://[::1]:9000/hook", ("http://[::1]:9000/",), resolve=dns)
    check_outbound_url("http://10.0.0.5/hook", ("http://10.0.0.5/",), resolve=dns)
    assert dns.lookups == []
    assert "matches none" in refusal("http://10.0.0.6/hook", ("http://10.0.0.5/",))


def test_localhost_named_in_a_prefix_reaches_loopback_only() -> None:
    assert resolve_host("localhost", 80)  # the real resolver knows localhost
    check_outbound_url(
        "http://localhost:9000/hook",
        ("http://localhost:9000/",),
        resolve=FakeDns({"localhost": ["127.0.0.1", "::1"]}),
    )
    dns = FakeDns({"localhost": ["10.0.0.1"]})
    with pytest.raises(InvalidInput, match=re.escape("internal address 10.0.0.1")):
        check_outbound_url("http://localhost:9000/hook", ("http://localhost:9000/",), resolve=dns)


def test_credentials_and_query_are_not_echoed() -> None:
    message = refusal("https://user:s3cret@other.example/x?token=t0ken", HOOKS, FakeDns({}))
    assert "s3cret" not in message
    assert "t0ken" not in message


def test_prefixes_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_SETTING, raising=False)
    assert allowed_prefixes_from_env() == ()
    monkeypatch.setenv(ALLOW_SETTING, " https://hooks.example.com/ , http://10.0.0.5:8080/a ,")
    assert allowed_prefixes_from_env() == ("https://hooks.example.com/", "http://10.0.0.5:8080/a")


@pytest.mark.parametrize(
    "text",
    [
        "hooks.example.com",
        "ftp://hooks.example.com/",
        "https://u:p@hooks.example.com/",
        "https://h/?q=1",
    ],
)
def test_a_bad_prefix_names_the_setting(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(ALLOW_SETTING, text)
    with pytest.raises(InvalidInput, match=ALLOW_SETTING):
        allowed_prefixes_from_env()
