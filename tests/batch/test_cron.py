"""Cron expressions and path templates of batch schedules: crontab's weekdays, the latest
missed time, placeholders, and errors that name the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shipyard.batch.cron import (
    following,
    latest,
    next_time,
    parse_cron,
    placeholders,
    render,
    several_a_day,
    zone,
)
from shipyard.errors import InvalidInputError

FRIDAY = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "first"),
    [
        ("0 2 * * *", "2026-11-28 02:00 Sat"),
        ("0 2 * * 0", "2026-11-29 02:00 Sun"),  # crontab: 0 is Sunday
        ("0 2 * * 7", "2026-11-29 02:00 Sun"),
        ("0 2 * * 1-5", "2026-11-30 02:00 Mon"),
        ("0 2 * * */2", "2026-11-28 02:00 Sat"),  # Sun, Tue, Thu, Sat
        ("0 2 * * mon,wed", "2026-11-30 02:00 Mon"),
        ("*/15 * * * *", "2026-11-27 03:00 Fri"),
        ("30 1 1 * *", "2026-12-01 01:30 Tue"),
    ],
)
def test_cron_times_follow_crontab(expression: str, first: str) -> None:
    assert f"{next_time(parse_cron(expression), FRIDAY):%Y-%m-%d %H:%M %a}" == first


def test_a_time_zone_moves_the_times_and_the_date() -> None:
    trigger = parse_cron("30 0 * * *", "Europe/Paris")
    at = next_time(trigger, FRIDAY)
    assert at == datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    rendered = render("in/{date}/x-{time}", at, zone("Europe/Paris"))
    assert rendered == "in/2026-11-28/x-20261127T2330Z"


def test_the_latest_missed_time_is_found_in_few_steps() -> None:
    daily = parse_cron("0 2 * * *")
    first = datetime(2026, 1, 1, 2, tzinfo=UTC)
    assert latest(daily, first, FRIDAY) == datetime(2026, 11, 27, 2, tzinfo=UTC)
    assert latest(daily, first, first) == first
    minutely = parse_cron("* * * * *")
    assert latest(minutely, first, FRIDAY) == FRIDAY
    assert following(daily, datetime(2026, 11, 27, 2, tzinfo=UTC)).day == 28


def test_placeholders_and_how_often_a_cron_runs_a_day() -> None:
    assert placeholders("in/{date}/{time}.parquet", "input") == {"date", "time"}
    assert placeholders("in/{{literal}}", "input") == set()
    assert several_a_day(parse_cron("0 * * * *"), UTC, FRIDAY)
    assert not several_a_day(parse_cron("0 2 * * *"), UTC, FRIDAY)


@pytest.mark.parametrize(
    ("expression", "timezone", "message"),
    [
        ("61 * * * *", "UTC", "cron '61 * * * *': minute '61' is not valid"),
        ("0 25 * * *", "UTC", "hour must be 0-23"),
        ("0 2 32 * *", "UTC", "day must be 1-31"),
        ("0 2 * 13 *", "UTC", "month must be 1-12 or jan-dec"),
        ("0 2 * * 8", "UTC", "weekday must be 0-7 (0 and 7 are Sunday) or sun-sat"),
        ("0 2 * *", "UTC", "has 4 field(s); give five fields: minute hour day month weekday"),
        ("", "UTC", "cron is empty"),
        ("0 2 * * *", "Mars/Base", "timezone 'Mars/Base' is not known"),
    ],
)
def test_a_bad_expression_names_the_field(expression: str, timezone: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_cron(expression, timezone)
    assert message in str(info.value)
    if "field" in message or "must be" in message:
        assert "give five fields: minute hour day month weekday" in str(info.value)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("in/{day}.parquet", "placeholder {day} is not known; use {date} (YYYY-MM-DD)"),
        ("in/{date:%Y}.parquet", "placeholder {date:%Y} is not known"),
        ("in/{.parquet", "is not a valid template"),
    ],
)
def test_an_unknown_placeholder_is_refused(template: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match="input") as info:
        placeholders(template, "input")
    assert message in str(info.value)
