"""Sink URLs: what each one means, and the message a bad one gets at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium.config import event_sinks_from_env
from podium.errors import InvalidInput
from podium.events.urls import parse_sink, parse_sinks, sink_name, split_sink_urls


def test_each_kind_of_url() -> None:
    file = parse_sink("file:///var/podium/events.jsonl")
    assert (file.kind, file.path, file.name) == (
        "file",
        Path("/var/podium/events.jsonl"),
        "file:///var/podium/events.jsonl",
    )
    hook = parse_sink("https://user:secret@hooks.example.com/podium")
    assert hook.kind == "webhook"
    assert hook.name == "https://hooks.example.com/podium"
    js = parse_sink("nats://127.0.0.1:4222?stream=RUNS&subject=acme.podium")
    assert (js.kind, js.url, js.stream, js.subject) == (
        "nats",
        "nats://127.0.0.1:4222",
        "RUNS",
        "acme.podium",
    )
    default = parse_sink("nats://nats:4222")
    assert (default.stream, default.subject) == ("PODIUM", "podium.events")


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("file://relative/events.jsonl", "three slashes"),
        ("kafka://broker:9092", "unknown scheme"),
        ("http:///nohost", "no host"),
        ("nats://127.0.0.1:4222?topic=x", "stream=NAME&subject=PREFIX"),
        ("nats://127.0.0.1:4222?stream=a.b", "plain name"),
    ],
)
def test_a_bad_url_says_what_to_fix(url: str, hint: str) -> None:
    with pytest.raises(InvalidInput, match=hint):
        parse_sink(url)


def test_a_sink_named_twice_is_refused() -> None:
    with pytest.raises(InvalidInput, match="twice"):
        parse_sinks(("file:///tmp/a.jsonl", "file:///tmp/a.jsonl"))


def test_long_names_fit_their_column_and_stay_apart() -> None:
    a = sink_name("https://example.com/" + "a" * 200)
    b = sink_name("https://example.com/" + "a" * 199 + "b")
    assert len(a) == len(b) == 100
    assert a != b


def test_the_environment_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PODIUM_EVENT_SINKS", raising=False)
    assert event_sinks_from_env(tmp_path) == (f"file://{tmp_path / 'events.jsonl'}",)
    monkeypatch.setenv("PODIUM_EVENT_SINKS", "none")
    assert event_sinks_from_env(tmp_path) == ()
    monkeypatch.setenv("PODIUM_EVENT_SINKS", " file:///tmp/x.jsonl , http://h/p ,")
    assert event_sinks_from_env(tmp_path) == ("file:///tmp/x.jsonl", "http://h/p")
    assert split_sink_urls("") == ()
    monkeypatch.setenv("PODIUM_EVENT_SINKS", "ftp://nowhere")
    with pytest.raises(InvalidInput, match=r"^PODIUM_EVENT_SINKS: .*unknown scheme"):
        event_sinks_from_env(tmp_path)
