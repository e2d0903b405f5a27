"""Silence matchers (rules/matchers.py): equality, globs, !=, regexes, missing paths, errors."""

from __future__ import annotations

import pytest

from receiver.rules.matchers import MatcherError, all_hold, parse_matcher, parse_matchers, suggest
from tests.rules.helpers import EVENT

# EVENT: source fusillade-prod, type run.completed, data.run.name "API Load Test", requests 1000.
MATCH_TABLE = [
    ("source=fusillade-prod", True),
    ("source=fusillade", False),  # equality, not a prefix
    ("source=fusillade*", True),  # glob
    ("data.run.name=API*Test", True),
    ("data.run.name=Nightly*", False),
    ("data.run.name!=Nightly*", True),
    ("source!=fusillade-prod", False),
    ("type=~run\\..*", True),
    ("type=~run", False),  # a regex matches the whole value
    ("type!~test\\..*", True),
    ("data.metrics.requests=1000", True),  # a number compares as its JSON text
    ("data.flags.ok=true", True),
    ("data.run.tags.0=nightly", True),  # an index into a list, as in rule paths
    ("data.nothing=x", False),  # a missing path is the empty string
    ("data.nothing!=x", True),
    ("data.nothing=", True),
    ("  source = fusillade-prod ", True),  # spaces around the operator are ignored
]


@pytest.mark.parametrize(("text", "holds"), MATCH_TABLE)
def test_matcher_table(text: str, holds: bool) -> None:
    assert parse_matcher(text).holds(EVENT) is holds


def test_a_silence_holds_when_all_its_matchers_do() -> None:
    assert all_hold(parse_matchers(["source=fusillade*", "data.run.name=API*"]), EVENT)
    assert not all_hold(parse_matchers(["source=fusillade*", "data.run.name=Nightly*"]), EVENT)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("source", "'source' is not a matcher like source=fusillade"),
        ("=x", "'=x' is not a matcher like"),
        ("body.x=1", "'body.x=1': 'body.x' is not an envelope path"),
        ("data..x=1", "'data..x=1': 'data..x' is not an envelope path"),
        ("type=~(a", "'type=~(a': invalid regex: missing ), unterminated subpattern"),
        ("type=~(a+)\\1", "'type=~(a+)\\\\1': invalid regex: backreferences (\\1, (?P=name)) cannot be used"),
    ],
)
def test_bad_matchers_say_why(text: str, message: str) -> None:
    with pytest.raises(MatcherError) as info:
        parse_matcher(text)
    assert str(info.value).startswith(message)


def test_every_bad_matcher_is_named_at_once() -> None:
    with pytest.raises(MatcherError) as info:
        parse_matchers(["source=a", "nope", "x.y=1"])
    assert str(info.value) == (
        "'nope' is not a matcher like source=fusillade, data.run.name=Nightly* or type=~run\\..*; "
        "'x.y=1': 'x.y' is not an envelope path (source, type, subject, data.…)"
    )
    with pytest.raises(MatcherError, match="at least one matcher"):
        parse_matchers([])


def test_suggested_matchers_for_an_event() -> None:
    expected = ["source=fusillade-prod", "type=run.completed", "data.run.name=API Load Test"]
    assert suggest(EVENT) == expected
    assert all_hold(parse_matchers(suggest(EVENT)), EVENT)
