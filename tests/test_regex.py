"""Rule regexes and globs run in linear time (RE2); what RE2 cannot run is refused at load."""

from __future__ import annotations

import fnmatch
import time

import pytest

from receiver.errors import ConfigError
from receiver.rules.operators import Glob
from receiver.rules.regex import RegexError, compile_regex
from tests.rules.helpers import EVENT, event, load_text, one_rule


def named(name: str) -> dict[str, object]:
    e = event()
    e["data"] = {**EVENT["data"], "run": {"name": name}}
    return e


@pytest.mark.parametrize("length", [32, 200_000])
def test_catastrophic_pattern_matches_a_long_attacker_string_in_linear_time(length: int) -> None:
    """``^(a+)+$`` took a second at 25 characters under Python's re, doubling per character."""
    rules = one_rule({"data.run.name": {"regex": "^(a+)+$"}})
    hostile = named("a" * length + "!")
    started = time.perf_counter()
    assert rules.match(hostile) == []
    assert [r.name for r in rules.match(named("a" * length))] == ["r"]
    # Generous on a loaded machine: RE2 takes milliseconds; the old engine never finished.
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize("pattern", ["(x+x+)+y", "(a|aa)+$", "(.*a){20}"])
def test_other_exponential_shapes_stay_linear(pattern: str) -> None:
    compiled = compile_regex(pattern)
    started = time.perf_counter()
    assert compiled.search("a" * 100_000 + "x" * 100_000) is None or pattern == "(.*a){20}"
    assert time.perf_counter() - started < 10


REFUSED = [
    # (pattern, the construct named in the message)
    ("^(a)\\1$", "backreferences"),
    ("(?P<x>a)(?P=x)", "backreferences"),
    ("^API(?=-v2)", "lookahead/lookbehind"),
    ("(?<!x)y", "lookahead/lookbehind"),
    ("(?!dependabot/)", "lookahead/lookbehind"),
    ("a++", "atomic groups and possessive quantifiers"),
    ("(?>a|ab)c", "atomic groups and possessive quantifiers"),
    ("(a)?(?(1)b|c)", "conditional groups"),
    ("done\\Z", "\\Z"),
    ("a{1001}", "not supported by RE2"),
]


@pytest.mark.parametrize(("pattern", "construct"), REFUSED, ids=[p for p, _ in REFUSED])
def test_constructs_re2_cannot_run_are_refused_at_load_with_a_located_error(pattern: str, construct: str) -> None:
    text = f"rules:\n  - name: a\n    match:\n      type: run.completed\n      data.run.name: {{regex: '{pattern}'}}\n"
    with pytest.raises(ConfigError) as info:
        load_text({"r.yaml": text})
    (problem,) = info.value.problems
    assert str(problem).endswith(f"r.yaml:5: rules[0].match.data.run.name.regex: {problem.message}")
    assert problem.message.startswith("invalid regex: " + construct)
    assert "RE2" in problem.message


def test_every_refused_regex_is_reported_at_once() -> None:
    text = (
        "rules:\n  - name: a\n    match:\n      data.run.name: {regex: '(a)\\1'}\n"
        "  - name: b\n    match:\n      subject: {regex: '(?=x)'}\n      data.x: {regex: '(API'}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_text({"r.yaml": text})
    assert [f"{p.line}: {p.path}" for p in info.value.problems] == [
        "4: rules[0].match.data.run.name.regex",
        "7: rules[1].match.subject.regex",
        "8: rules[1].match.data.x.regex",
    ]
    assert info.value.problems[2].message == "invalid regex: missing ), unterminated subpattern at position 0"


SEMANTICS = [
    # (pattern, text, searched?) — the documented behaviour under RE2
    ("^API", "API Load Test", True),
    ("(?i)^api", "API Load Test", True),
    (r"\bLoad\b", "API Load Test", True),
    (r"^\d+$", "123", True),
    (r"^\d+$", "١٢٣", False),  # Arabic-Indic digits: \d is ASCII-only under RE2 (Python: Unicode)
    ("^ok$", "ok\n", False),  # $ is the very end under RE2 (Python: also before a final newline)
    ("(?m)^ok$", "x\nok\ny", True),
    ("é+", "café", True),
    ("^.{3}$", "日本語", True),  # characters, not bytes
    (r"^\pL+$", "café", True),  # RE2-only spellings of Unicode classes are accepted
    ("^[[:alpha:]]+$", "abc", True),
]


@pytest.mark.parametrize(("pattern", "text", "found"), SEMANTICS)
def test_documented_semantics(pattern: str, text: str, found: bool) -> None:
    assert (compile_regex(pattern).search(text) is not None) is found


GLOBS = [
    ("run.*", ["run.completed", "run.", "runs", "xrun.a"]),
    ("fusillade-*", ["fusillade-prod", "fusillade", "fusillade-a/b"]),
    ("fusillad?", ["fusillade", "fusillad", "fusilladex"]),
    ("t-[0-9]*", ["t-1", "t-x", "t-"]),
    ("[!b]ug.*", ["bug.reported", "hug.x", "ug.x"]),
    ("[]x]y", ["]y", "xy", "zy"]),
    ("a[b", ["a[b", "ab"]),
    ("a\\b*", ["a\\bc", "abc"]),
    ("x[\\]y", ["x\\y", "x]y"]),
    ("^$(.)+|", ["^$(a)+|", "^$(.)+|", "x"]),
    ("**.*", ["a.b", "ab", "."]),
    ("a*", ["a\nb"]),
    ("API *", ["API Load Test", "api load"]),
]


@pytest.mark.parametrize(("glob", "texts"), GLOBS, ids=[g for g, _ in GLOBS])
def test_globs_match_exactly_what_fnmatch_matches(glob: str, texts: list[str]) -> None:
    compiled = Glob(glob)
    for text in texts:
        assert compiled.check(text) is fnmatch.fnmatchcase(text, glob), (glob, text)


def test_a_many_star_glob_on_a_long_attacker_string_stays_fast() -> None:
    rules = one_rule({"subject": "*a*a*a*a*a*a*a*a*a*a*b"})
    hostile = event(subject="a" * 100_000)
    started = time.perf_counter()
    assert rules.match(hostile) == []
    assert time.perf_counter() - started < 10  # a naive backtracking translation never finishes


@pytest.mark.parametrize("value", ["\ud800 broken surrogate", "nul \x00 inside", "日本語 API"])
def test_any_string_value_is_searched_without_error(value: str) -> None:
    """Event values may hold lone surrogates and NULs (JSON allows them)."""
    assert compile_regex("API|broken|inside").search(value)
    assert compile_regex("^zzz").search(value) is None


def test_a_program_too_large_is_refused() -> None:
    with pytest.raises(RegexError, match="RE2"):
        compile_regex("((((a{100}){100}){100}){100})")
