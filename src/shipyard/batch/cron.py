"""Cron expressions and path templates of scheduled batch jobs.

A schedule's cron expression has the five fields of crontab, ``minute hour day month
weekday``, in a time zone (default UTC); it is read by APScheduler 3's ``CronTrigger``.
Weekday numbers mean what they mean in crontab (0 and 7 are Sunday, 1 is Monday): they
are turned into day names before APScheduler, which counts from Monday, reads them.

Input and output paths may hold ``{date}`` (the scheduled time's day in the schedule's
time zone, ``2026-11-27``) and ``{time}`` (the scheduled time in UTC to the minute,
``20261127T0200Z``, as in a run's job id), so each run reads its own partition and
writes its own directory.
"""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from shipyard.errors import InvalidInputError

#: The fields of a cron expression, in order, and what each takes.
FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day", "1-31"),
    ("month", "1-12 or jan-dec"),
    ("weekday", "0-7 (0 and 7 are Sunday) or sun-sat"),
)
_KEYWORDS = {"minute": "minute", "hour": "hour", "day": "day", "month": "month"}
_HINT = "give five fields: minute hour day month weekday, e.g. '0 2 * * *' (02:00 every day)"
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NUMERIC = re.compile(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?", re.ASCII)

#: What a path template may name.
PLACEHOLDERS = {"date": "YYYY-MM-DD", "time": "YYYYMMDDTHHMMZ"}
#: How a scheduled time is written in a run's job id and ``{time}``.
TIME_FORMAT = "%Y%m%dT%H%MZ"


def zone(name: str) -> tzinfo:
    """The time zone called ``name`` (an IANA name such as ``Europe/Paris``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInputError(
            f"timezone {name!r} is not known; give an IANA name such as 'UTC' or 'Europe/Paris'"
        ) from None


def _weekday(field: str, expression: str) -> str:
    """The weekday field with crontab's numbers (0 and 7 Sunday) as day names."""
    parts = []
    for part in field.split(","):
        found = _NUMERIC.fullmatch(part)
        if found is None or found.group(1) == "*" and found.group(2) is None:
            parts.append(part)  # '*', names and name ranges mean the same to both
            continue
        span, step = found.group(1), int(found.group(2) or 1)
        first, _, last = span.partition("-")
        low, high = (0, 6) if span == "*" else (int(first), int(last or first))
        if step < 1 or not 0 <= low <= high <= 7:
            raise InvalidInputError(
                f"cron {expression!r}: weekday {part!r} is not valid; weekday must be "
                f"{FIELDS[4][1]}, low to high; {_HINT}"
            )
        days = dict.fromkeys(_DAYS[n] for n in range(low, high + 1, step))
        parts.append(",".join(days))
    return ",".join(parts)


def parse_cron(expression: str, timezone: str = "UTC") -> CronTrigger:
    """The trigger of a five-field cron expression in ``timezone``; a bad expression is
    refused naming the field and what it takes."""
    where = zone(timezone)
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidInputError(f"cron is empty; {_HINT}")
    fields = expression.split()
    if len(fields) != 5:
        raise InvalidInputError(f"cron {expression!r} has {len(fields)} field(s); {_HINT}")
    values = dict(zip(("minute", "hour", "day", "month"), fields, strict=False))
    for (name, allowed), value in zip(FIELDS[:4], fields, strict=False):
        try:
            CronTrigger(**{_KEYWORDS[name]: value}, timezone=UTC)
        except ValueError as exc:
            why = str(exc).split("': ", 1)[-1]
            raise InvalidInputError(
                f"cron {expression!r}: {name} {value!r} is not valid ({why}); {name} must be "
                f"{allowed}, a list (1,15), a range (1-5) or a step (*/10); {_HINT}"
            ) from None
    weekday = _weekday(fields[4], expression)
    try:
        return CronTrigger(**values, day_of_week=weekday, timezone=where)
    except ValueError as exc:
        raise InvalidInputError(
            f"cron {expression!r}: weekday {fields[4]!r} is not valid ({exc}); weekday must "
            f"be {FIELDS[4][1]}; {_HINT}"
        ) from None


def next_time(trigger: CronTrigger, after: datetime) -> datetime:
    """The first time the trigger fires at or after ``after``, in UTC."""
    fired = trigger.get_next_fire_time(None, after)
    if fired is None:  # pragma: no cover - a cron trigger without an end always fires again
        raise InvalidInputError("the cron expression never fires again")
    assert isinstance(fired, datetime)
    return fired.astimezone(UTC)


def following(trigger: CronTrigger, at: datetime) -> datetime:
    """The first time the trigger fires strictly after ``at`` (cron counts in minutes)."""
    return next_time(trigger, at + timedelta(seconds=1))


def latest(trigger: CronTrigger, first: datetime, now: datetime) -> datetime:
    """The last time the trigger fires in ``[first, now]``, where ``first <= now`` is one
    of its times: when several were missed, only the latest runs. Looks back from ``now``
    in doubling windows, so a long gap costs a few steps, not one per missed time."""
    back = timedelta(minutes=1)
    while True:
        start = max(first, now - back)
        found = next_time(trigger, start)
        if found <= now:
            while (later := following(trigger, found)) <= now:
                found = later
            return found
        if start == first:
            return first
        back *= 2


def placeholders(template: str, what: str) -> set[str]:
    """The placeholders ``template`` names; any other is refused, naming ``what``."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidInputError(
            f"{what} {template!r} is not a valid template ({exc}); write a brace as {{{{ or }}}}"
        ) from None
    named: set[str] = set()
    allowed = ", ".join(f"{{{k}}} ({v})" for k, v in PLACEHOLDERS.items())
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            raise InvalidInputError(
                f"{what} {template!r}: placeholder {shown} is not known; use {allowed}"
            )
        named.add(field)
    return named


def render(template: str, at: datetime, where: tzinfo) -> str:
    """``template`` with ``{date}`` (``at``'s day in ``where``) and ``{time}`` (``at`` in
    UTC) filled in."""
    values: dict[str, Any] = {
        "date": at.astimezone(where).strftime("%Y-%m-%d"),
        "time": stamp(at),
    }
    return template.format(**values)


def stamp(at: datetime) -> str:
    """A scheduled time as written in job ids: ``20261127T0200Z``."""
    return at.astimezone(UTC).strftime(TIME_FORMAT)


def several_a_day(trigger: CronTrigger, where: tzinfo, now: datetime) -> bool:
    """Whether the trigger fires more than once on some day (in ``where``) of its next
    few dozen times."""
    seen: set[str] = set()
    at = next_time(trigger, now)
    for _ in range(48):
        day = at.astimezone(where).strftime("%Y-%m-%d")
        if day in seen:
            return True
        seen.add(day)
        at = following(trigger, at)
    return False
