"""``mute_time`` and ``repeat_interval`` on an action (rules/mutetime.py): wall-clock tables across
Europe/Berlin's daylight saving changes, and located load errors, all at once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from receiver.errors import ConfigError
from receiver.rules import load_rules
from receiver.rules.mutetime import MuteTime
from tests.rules.helpers import load_text, write
from tests.testdata.rules.sink_models import SINKS

ACTION = "      - sink: slack-perf\n        title: t\n        body: b\n"


def _mute(spec: str) -> MuteTime:
    """The compiled mute_time of one action written as ``spec`` (flow YAML)."""
    rules = load_text({"r.yaml": f"rules:\n  - name: r\n    actions:\n{ACTION}        mute_time: {spec}\n"})
    mute = rules.rules[0].actions[0].mute_time
    assert mute is not None
    return mute


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


NIGHT = "[{times: ['22:00-07:00'], location: Europe/Berlin}]"
WEEKEND = "[{weekdays: [saturday, sunday], location: Europe/Berlin}]"
TWO_TO_THREE = "[{times: ['02:00-03:00'], location: Europe/Berlin}]"
# Instants in UTC; Berlin switches to summer time on 2026-03-29 at 01:00 UTC (02:00 -> 03:00 local)
# and back on 2026-10-25 at 01:00 UTC (03:00 -> 02:00 local).
MUTE_TABLE = [
    (NIGHT, "2026-03-28T20:59", False),  # 21:59 CET
    (NIGHT, "2026-03-28T21:00", True),  # 22:00 CET
    (NIGHT, "2026-03-28T05:30", True),  # 06:30 CET, winter
    (NIGHT, "2026-03-29T00:59", True),  # 01:59 CET, just before the switch
    (NIGHT, "2026-03-29T01:00", True),  # 03:00 CEST, just after
    (NIGHT, "2026-03-29T04:59", True),  # 06:59 CEST
    (NIGHT, "2026-03-29T05:00", False),  # 07:00 CEST: the night ends an hour earlier in UTC
    (NIGHT, "2026-03-29T05:30", False),  # 07:30 CEST: same UTC time as the muted winter morning
    (NIGHT, "2026-10-24T19:59", False),  # 21:59 CEST
    (NIGHT, "2026-10-24T20:00", True),  # 22:00 CEST
    (NIGHT, "2026-10-25T00:30", True),  # 02:30 CEST, the first time
    (NIGHT, "2026-10-25T01:30", True),  # 02:30 CET, the repeated hour
    (NIGHT, "2026-10-25T05:30", True),  # 06:30 CET: muted one UTC hour longer than in summer
    (NIGHT, "2026-10-25T06:00", False),  # 07:00 CET
    (NIGHT, "2026-10-24T05:30", False),  # 07:30 CEST
    (TWO_TO_THREE, "2026-03-29T00:59", False),  # 01:59 CET; 02:00-03:00 does not exist that night
    (TWO_TO_THREE, "2026-03-29T01:00", False),  # 03:00 CEST
    (TWO_TO_THREE, "2026-10-25T00:30", True),  # 02:30 CEST
    (TWO_TO_THREE, "2026-10-25T01:30", True),  # 02:30 CET: the hour happens twice, muted twice
    (WEEKEND, "2026-03-27T22:59", False),  # Friday 23:59 CET
    (WEEKEND, "2026-03-27T23:30", True),  # Saturday 00:30 CET while UTC is still Friday
    (WEEKEND, "2026-03-29T21:59", True),  # Sunday 23:59 CEST
    (WEEKEND, "2026-03-29T22:30", False),  # Monday 00:30 CEST while UTC is still Sunday
    ("[{weekdays: ['monday:friday'], times: ['09:00-17:00']}]", "2026-03-30T16:59", True),  # UTC default
    ("[{weekdays: ['monday:friday'], times: ['09:00-17:00']}]", "2026-03-30T17:00", False),
    ("[{days_of_month: [-1], months: [february]}]", "2028-02-29T12:00", True),  # leap year: last day
    ("[{days_of_month: [-1], months: [february]}]", "2028-02-28T12:00", False),
    ("[{days_of_month: ['1:7'], months: ['1:3']}]", "2026-03-07T23:59", True),
    ("[{days_of_month: ['1:7'], months: ['1:3']}]", "2026-04-01T00:00", False),
    # Any interval: the weekend or weekday nights.
    (f"[{WEEKEND[1:-1]}, {NIGHT[1:-1]}]", "2026-03-30T21:30", True),  # Monday 23:30 CEST
    (f"[{WEEKEND[1:-1]}, {NIGHT[1:-1]}]", "2026-03-30T10:00", False),
]


@pytest.mark.parametrize(("spec", "utc", "muted"), MUTE_TABLE)
def test_mute_time_table(spec: str, utc: str, muted: bool) -> None:
    assert _mute(spec).muted(_at(utc)) is muted


def test_repeat_interval_is_compiled_to_seconds() -> None:
    rules = load_text({"r.yaml": f"rules:\n  - name: r\n    actions:\n{ACTION}        repeat_interval: 12h\n"})
    assert rules.rules[0].actions[0].repeat_interval == 12 * 3600
    assert "repeat_interval" not in rules.rules[0].actions[0].params  # not a sink parameter


def test_noise_options_errors_are_located_and_reported_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (
        f"rules:\n  - name: r\n    actions:\n{ACTION}"
        "        repeat_interval: 4 hours\n"
        "        mute_time:\n"
        "          - weekdays: [funday, 'friday:monday']\n"
        "            times: ['25:00-07:00']\n"
        "            location: Mars/Olympus\n"
        "          - {days_of_month: [0], months: [smarch], every: day}\n"
        f"{ACTION}        repeat_interval: 0s\n        mute_time: []\n"
    )
    write(tmp_path / "rules", {"r.yaml": text})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_rules(["rules"], SINKS)
    assert [str(p) for p in info.value.problems] == [
        "rules/r.yaml:7: rules[0].actions[0].repeat_interval: '4 hours' is not a duration like 30s, 5m, 12h or 7d",
        "rules/r.yaml:9: rules[0].actions[0].mute_time[0].weekdays[0]: "
        "'funday' is not one of monday, tuesday, wednesday, thursday, friday, saturday, sunday",
        "rules/r.yaml:9: rules[0].actions[0].mute_time[0].weekdays[1]: "
        "'friday:monday' is a range going backwards (monday is before friday)",
        "rules/r.yaml:10: rules[0].actions[0].mute_time[0].times[0]: "
        "'25:00-07:00' is not a time range HH:MM-HH:MM such as \"22:00-07:00\"",
        "rules/r.yaml:11: rules[0].actions[0].mute_time[0].location: "
        "unknown time zone 'Mars/Olympus' (an IANA name such as Europe/Berlin)",
        "rules/r.yaml:12: rules[0].actions[0].mute_time[1].every: unknown key",
        "rules/r.yaml:12: rules[0].actions[0].mute_time[1].months[0]: "
        "'smarch' is not one of january, february, march, april, may, june, july, august, september, "
        "october, november, december or 1..12",
        "rules/r.yaml:12: rules[0].actions[0].mute_time[1].days_of_month[0]: "
        "0 is not a day of the month (1..31, -1..-31 from the end)",
        "rules/r.yaml:16: rules[0].actions[1].repeat_interval: must be longer than 0",
        "rules/r.yaml:17: rules[0].actions[1].mute_time: "
        "needs a list of time intervals such as {weekdays: [saturday, sunday]}",
    ]
