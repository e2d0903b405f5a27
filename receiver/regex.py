"""Linear-time regexes for rules: RE2 behind a Python-like front.

Rule regexes and globs run on attacker-controlled text (run names, bug titles). Python's
backtracking ``re`` takes exponential time on patterns such as ``^(a+)+$``, blocking the
event loop; RE2 matches in time linear in the text, whatever the pattern. It cannot run
backreferences, lookaround or possessive quantifiers, so a rule using them is refused at
load with a located error rather than silently running slowly.

A pattern RE2 refuses is compiled by Python's ``re`` too, so an ordinary syntax error
reads as it always did (``missing ), unterminated subpattern at position 0``) and what
Python accepts but RE2 cannot run gets its own message. Differences that remain are listed in docs/rules.md.
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


def compile_regex(pattern: str) -> Any:
    """The RE2 program for ``pattern``; raises RegexError with a readable reason."""
    try:
        return re2.compile(pattern, _OPTIONS)
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


def glob_to_regex(glob: str) -> str:
    """An RE2 pattern matching exactly what ``fnmatch.fnmatchcase(text, glob)`` matches.

    ``*`` any run of characters (dots and slashes too), ``?`` one character, ``[abc]`` /
    ``[!abc]`` a character set; a ``[`` with no closing ``]`` is a literal. Python's own
    ``fnmatch.translate`` emits lookaheads and backreferences, which RE2 does not run.
    """
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        i += 1
        if c == "*":
            if not out or out[-1] != ".*":  # consecutive stars are one star
                out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = i
            if j < n and glob[j] == "!":
                j += 1
            if j < n and glob[j] == "]":
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
                continue
            body = glob[i:j]
            i = j + 1
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            members = "".join("\\" + ch if ch in "\\^[]" else ch for ch in body)
            out.append(f"[{'^' if negate else ''}{members}]")
        else:
            out.append(re.escape(c))
    return r"(?s)\A" + "".join(out) + r"\z"


def compile_glob(glob: str) -> Any:
    """The RE2 program for a glob (a full match); raises RegexError."""
    try:
        return re2.compile(glob_to_regex(glob), _OPTIONS)
    except re2.error as exc:
        raise RegexError(_explain("", exc)) from None
