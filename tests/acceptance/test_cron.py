"""``podium cron``: next fire times in the zone and in UTC, no server needed."""

from __future__ import annotations

import json
from datetime import datetime

from .conftest import Cli


def test_cron_json_across_dst_start(cli: Cli) -> None:
    result = cli(
        "cron",
        "0 0 * * *",
        "--timezone",
        "America/Los_Angeles",
        "--after",
        "2026-03-07T12:00:00-08:00",
        "--count",
        "3",
        "--json",
    )

    assert result.returncode == 0, result.stderr
    fire_times = json.loads(result.stdout)["fire_times"]
    assert fire_times == [
        {"local": "2026-03-08T00:00:00-08:00", "utc": "2026-03-08T08:00:00+00:00"},
        {"local": "2026-03-09T00:00:00-07:00", "utc": "2026-03-09T07:00:00+00:00"},
        {"local": "2026-03-10T00:00:00-07:00", "utc": "2026-03-10T07:00:00+00:00"},
    ]


def test_cron_default_count_is_five_and_in_the_future(cli: Cli) -> None:
    result = cli("cron", "@hourly", "--json")

    assert result.returncode == 0, result.stderr
    fire_times = json.loads(result.stdout)["fire_times"]
    assert len(fire_times) == 5
    utc = [datetime.fromisoformat(item["utc"]) for item in fire_times]
    assert utc == sorted(utc)
    assert all(t.utcoffset() is not None for t in utc)


def test_cron_naive_after_is_in_the_given_zone(cli: Cli) -> None:
    result = cli(
        "cron",
        "30 9 * * *",
        "--timezone",
        "Europe/Paris",
        "--after",
        "2026-01-10T10:00:00",
        "--count",
        "1",
        "--json",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["fire_times"] == [
        {"local": "2026-01-11T09:30:00+01:00", "utc": "2026-01-11T08:30:00+00:00"}
    ]


def test_cron_human_output_has_local_and_utc_columns(cli: Cli) -> None:
    result = cli(
        "cron", "0 12 * * *", "--timezone", "Asia/Tokyo", "--after", "2026-05-01T00:00:00+00:00"
    )

    assert result.returncode == 0, result.stderr
    assert "UTC" in result.stdout
    assert "2026-05-01 12:00:00" in result.stdout
    assert "2026-05-01 03:00:00" in result.stdout


def test_cron_bad_expression_exits_2(cli: Cli) -> None:
    result = cli("cron", "61 * * * *")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")


def test_cron_bad_timezone_exits_2(cli: Cli) -> None:
    result = cli("cron", "0 0 * * *", "--timezone", "Mars/Olympus_Mons")

    assert result.returncode == 2
    assert "Mars/Olympus_Mons" in result.stderr


def test_cron_bad_after_exits_2(cli: Cli) -> None:
    result = cli("cron", "0 0 * * *", "--after", "yesterday")

    assert result.returncode == 2
    assert "--after" in result.stderr
