"""Linear-time regexes for rules: RE2 behind a Python-like front.

Rule regexes run on attacker-controlled text (run names, bug titles). Python's
backtracking ``re`` takes exponential time on patterns such as ``^(a+)+$``, blocking the
event loop; RE2 matches in time linear in the text, whatever the pattern. It cannot run
backreferences, lookaround or possessive quantifiers, so a rule using them is refused at
load with a located error rather than silently running slowly.

A pattern RE2 refuses is compiled by Python's ``re`` too, so an ordinary syntax error
reads as it always did (``missing ), unterminated subpattern at position 0``) and what
Python accepts but RE2 cannot run gets its own message. Differences that remain are
listed in docs/rules.md.

Globs are not compiled here: ``fnmatch.translate`` already emits patterns that cannot
backtrack catastrophically (each ``*`` is an atomic group), and Python's ``re`` runs them
several times cheaper per call than RE2 does from Python, on the hot path (``type: run.*``).
"""

from __future__ import annotations

import re
from typing import Any

import re2

# A regex program larger than this is refused (RE2's default is 8 MiB; rules are small).
MAX_PROGRAM_BYTES = 8 << 20

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would otherwise print every refused pattern to stderr
_OPTIONS.max_mem = MAX_PROGRAM_BYTES

# Constructs Python accepts and RE2 refuses, named in words for the error message.
_UNSUPPORTED = (
    (re.compile(r"\(\?<?[=!]"), "lookahead/lookbehind ((?=…), (?!…), (?<=…), (?<!…))"),
    (re.compile(r"\\[1-9]|\(\?P="), "backreferences (\\1, (?P=name))"),
    (re.compile(r"\(\?>|[*+?}]\+"), "atomic groups and possessive quantifiers ((?>…), a*+)"),
    (re.compile(r"\(\?\("), "conditional groups ((?(1)…))"),
    (re.compile(r"\\Z"), "\\Z (use $: under RE2 it matches only at the very end)"),
)


class RegexError(ValueError):
    """A pattern that cannot be used; the message says why."""


class Linear:
    """A compiled RE2 program answering ``search(text)``: a truthy value when the pattern
    occurs in ``text``, else None (what a rule condition needs, without a match object).

    google-re2's ``search`` wraps each call in Python code that maps byte offsets back to
    characters (~17 µs a call here); calling the program directly takes a third of that."""

    __slots__ = ("_match", "_search")

    def __init__(self, compiled: Any) -> None:
        self._match: tuple[Any, Any] | None
        program = getattr(compiled, "_regexp", None)
        anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
        if program is None or anchor is None:  # another binding version: its public API
            self._search: Any = compiled.search
            self._match = None
        else:
            self._search = None
            self._match = (program.Match, anchor)

    def search(self, text: str) -> Any:
        if self._match is None:
            return self._search(text)
        match, anchor = self._match
        data = text.encode("utf-8", "surrogatepass")
        start, _ = match(anchor, data, 0, len(data))[0]
        return True if start >= 0 else None


def compile_regex(pattern: str) -> Any:
    """The RE2 program for ``pattern``; raises RegexError with a readable reason."""
    try:
        return Linear(re2.compile(pattern, _OPTIONS))
    except re2.error as exc:
        refused = exc
    try:  # a plain syntax error reads better in Python's words
        re.compile(pattern)
    except re.error as exc:
        raise RegexError(str(exc)) from None
    raise RegexError(_explain(pattern, refused))


def _explain(pattern: str, exc: Exception) -> str:
    for construct, words in _UNSUPPORTED:
        if construct.search(pattern):
            return f"{words} cannot be used: rule regexes run on RE2, which matches in linear time"
    detail = exc.args[0] if exc.args else str(exc)
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    return f"not supported by RE2 (the linear-time engine rules use): {detail}"
