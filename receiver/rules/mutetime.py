"""``mute_time:`` on an action: time intervals in which its deliveries are silenced, not sent.

    mute_time:
      - weekdays: [saturday, sunday]
      - times: ["22:00-07:00"]
        location: Europe/Berlin

An action is muted at an instant when any interval contains it; an interval contains it when
each field it names does (``weekdays``, ``times``, ``days_of_month``, ``months``), read on the
wall clock of its ``location`` (an IANA zone, default UTC) through zoneinfo, so daylight saving
changes move the instants and not the wall-clock times. A ``times`` range whose end is before its
start crosses midnight (``22:00-07:00`` is 22:00 to 24:00 and 00:00 to 07:00 of each local day); the
end is exclusive, ``24:00`` is the end of the day. Weekdays and months take names or ranges
(``monday:friday``); days of the month take 1..31 or -1..-31 (from the end of the month).
Compiled once at load; problems are reported at their key.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from receiver.rules.duration import parse_duration
from receiver.yamlfile import PathKey

Report = Callable[[PathKey, str], None]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = tuple(m.lower() for m in calendar.month_name[1:])
_TIME_RANGE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")
_KEYS = ("weekdays", "times", "days_of_month", "months", "location")


@dataclass(frozen=True)
class TimeInterval:
    weekdays: frozenset[int] | None  # 0 is Monday
    minutes: tuple[tuple[int, int], ...] | None  # [start, end) minutes of the local day
    days_of_month: frozenset[int] | None
    months: frozenset[int] | None
    zone: ZoneInfo

    def contains(self, at: float) -> bool:
        local = datetime.fromtimestamp(at, self.zone)
        if self.weekdays is not None and local.weekday() not in self.weekdays:
            return False
        if self.months is not None and local.month not in self.months:
            return False
        if self.days_of_month is not None:
            last = calendar.monthrange(local.year, local.month)[1]
            if local.day not in self.days_of_month and local.day - last - 1 not in self.days_of_month:
                return False
        if self.minutes is not None:
            minute = local.hour * 60 + local.minute
            return any(start <= minute < end for start, end in self.minutes)
        return True


@dataclass(frozen=True)
class MuteTime:
    intervals: tuple[TimeInterval, ...]

    def muted(self, at: float) -> bool:
        return any(i.contains(at) for i in self.intervals)


def compile_mute_time(raw: Any, at: PathKey, report: Report) -> MuteTime | None:
    """The compiled ``mute_time`` list, or None after reporting every problem in it."""
    if not isinstance(raw, list) or not raw:
        report(at, "needs a list of time intervals such as {weekdays: [saturday, sunday]}")
        return None
    intervals = [_interval(item, (*at, i), report) for i, item in enumerate(raw)]
    if any(i is None for i in intervals):
        return None
    return MuteTime(tuple(i for i in intervals if i is not None))


def _interval(raw: Any, at: PathKey, report: Report) -> TimeInterval | None:
    if not isinstance(raw, dict) or not raw:
        report(at, "a time interval is a mapping with weekdays:, times:, days_of_month:, months:, location:")
        return None
    ok = True
    for key in raw:
        if key not in _KEYS:
            report((*at, key), "unknown key")
            ok = False
    zone = ZoneInfo("UTC")
    if "location" in raw:
        try:
            zone = ZoneInfo(raw["location"]) if isinstance(raw["location"], str) else _bad_zone()
        except (ZoneInfoNotFoundError, ValueError):
            report((*at, "location"), f"unknown time zone {raw['location']!r} (an IANA name such as Europe/Berlin)")
            ok = False
    weekdays = _set(raw, "weekdays", at, report, lambda v: _named(v, WEEKDAYS, 0))
    months = _set(raw, "months", at, report, lambda v: _named(v, MONTHS, 1))
    days = _set(raw, "days_of_month", at, report, _day)
    minutes = _times(raw.get("times"), (*at, "times"), report) if "times" in raw else None
    if not ok or _failed(raw, weekdays, months, days, minutes):
        return None
    return TimeInterval(weekdays, minutes, days, months, zone)  # an absent key is None: any


def _bad_zone() -> ZoneInfo:
    raise ValueError("not a string")


def _failed(raw: dict[str, Any], *values: Any) -> bool:
    """Whether a key that is present failed to compile (absent keys are None too)."""
    keys = ("weekdays", "months", "days_of_month", "times")
    return any(k in raw and v is None for k, v in zip(keys, values, strict=True))


def _set(raw: dict[str, Any], key: str, at: PathKey, report: Report, one: Callable[[Any], set[int]]) -> Any:
    if key not in raw:
        return None
    items = raw[key]
    if not isinstance(items, list) or not items:
        report((*at, key), "needs a non-empty list")
        return None
    out: set[int] = set()
    bad = False
    for i, item in enumerate(items):
        try:
            out |= one(item)
        except ValueError as exc:
            report((*at, key, i), str(exc))
            bad = True
    return None if bad else frozenset(out)


def _named(value: Any, names: tuple[str, ...], first: int) -> set[int]:
    """One name, number or ``a:b`` range of weekdays (0-based) or months (1-based)."""

    def one(v: str) -> int:
        v = v.strip().lower()
        if v in names:
            return names.index(v) + first
        if v.isdigit() and first == 1 and 1 <= int(v) <= len(names):
            return int(v)
        raise ValueError(f"{value!r} is not one of {', '.join(names)}" + (" or 1..12" if first == 1 else ""))

    text = str(value)
    lo, _, hi = text.partition(":")
    start, end = one(lo), one(hi or lo)
    if end < start:
        before = f"{names[end - first]} is before {names[start - first]}"
        raise ValueError(f"{value!r} is a range going backwards ({before})")
    return set(range(start, end + 1))


def _day(value: Any) -> set[int]:
    text = str(value)
    lo, _, hi = text.partition(":") if text.count(":") == 1 else (text, "", "")
    try:
        start, end = int(lo), int(hi or lo)
    except ValueError:
        raise ValueError(f"{value!r} is not a day of the month (1..31, -1..-31 from the end)") from None
    if not all(1 <= abs(d) <= 31 for d in (start, end)) or end < start or (start < 0) != (end < 0):
        raise ValueError(f"{value!r} is not a day of the month (1..31, -1..-31 from the end)")
    return set(range(start, end + 1))


def _times(items: Any, at: PathKey, report: Report) -> tuple[tuple[int, int], ...] | None:
    if not isinstance(items, list) or not items:
        report(at, "needs a non-empty list of ranges such as \"22:00-07:00\"")
        return None
    out: list[tuple[int, int]] = []
    for i, item in enumerate(items):
        m = _TIME_RANGE.match(item) if isinstance(item, str) else None
        if m is None:
            report((*at, i), f"{item!r} is not a time range HH:MM-HH:MM such as \"22:00-07:00\"")
            return None
        start = int(m.group(1)) * 60 + int(m.group(2))
        end = int(m.group(3)) * 60 + int(m.group(4))
        if end > 24 * 60 or end == start:
            report((*at, i), f"{item!r} is an empty or impossible range")
            return None
        # A range whose end comes first crosses midnight: the evening part and the morning part.
        out.extend([(start, end)] if start < end else [(start, 24 * 60), (0, end)])
    return tuple(out)


# The action keys of noise control handled here (besides the sink's own parameters).
QUIET_KEYS = ("repeat_interval", "mute_time")


def compile_quiet(raw: dict[str, Any], at: PathKey, report: Report) -> tuple[float | None, MuteTime | None]:
    """An action's ``repeat_interval`` (seconds) and ``mute_time``, each None when absent or bad
    (reported)."""
    interval = None
    if "repeat_interval" in raw:
        value = raw["repeat_interval"]
        try:
            interval = parse_duration(value)
        except ValueError as exc:
            report((*at, "repeat_interval"), str(exc))
        else:
            if interval <= 0:
                report((*at, "repeat_interval"), "must be longer than 0")
                interval = None
    mute = compile_mute_time(raw["mute_time"], (*at, "mute_time"), report) if "mute_time" in raw else None
    return interval, mute
