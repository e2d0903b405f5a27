"""The one Jinja2 environment of Hookyard's templates (rule actions, a ``track:`` answer):
sandboxed, strict, with Hookyard's filters and per-parameter escaping. A bottom module, so
that the rules (``render``) and the sinks (reading an answer) share it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from jinja2 import StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

# --- filters --------------------------------------------------------------------------------


def short_sha(value: Any) -> str:
    """The first 7 characters of a commit sha (empty for null)."""
    return "" if value is None else str(value)[:7]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{what}: expected a number, got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise TypeError(f"{what}: expected a number, got {value!r}") from None


def duration(value: Any) -> str:
    """Milliseconds as a short human duration: ``850 ms``, ``4.2s``, ``1m 05s``, ``2h 03m 10s``."""
    ms = _number(value, "duration")
    if abs(ms) < 1000:
        return f"{round(ms)} ms"
    seconds = ms / 1000
    if abs(seconds) < 60:
        text = f"{seconds:.1f}".removesuffix(".0")
        return f"{text}s"
    sign = "-" if seconds < 0 else ""
    total = round(abs(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h {minutes:02d}m {secs:02d}s"
    return f"{sign}{minutes}m {secs:02d}s"


def percent(value: Any, digits: int = 1) -> str:
    """A ratio as a percentage: ``0.012`` → ``1.2%``."""
    return f"{_number(value, 'percent') * 100:.{digits}f}%"


FILTERS: dict[str, Callable[..., Any]] = {"short_sha": short_sha, "duration": duration, "percent": percent}


# How the value of each ``{{ … }}`` is escaped while one parameter renders (None: as is).
# Set per parameter from the sink's action model (``template_escapes``): a URL path encodes each
# value as one segment, Slack text escapes ``&<>``. The template's literal text is never
# touched, so the rule author's own markup and slashes keep working.
Escape = Callable[[str], str]
ESCAPE: ContextVar[Escape | None] = ContextVar("template_escape", default=None)


def _finalize(value: Any) -> Any:
    escape = ESCAPE.get()
    if escape is None or isinstance(value, Undefined):
        return value  # an Undefined raises when Jinja turns it into text, as it should
    return escape(str(value))


def make_environment() -> ImmutableSandboxedEnvironment:
    """The template environment.

    The *immutable* sandbox (a SandboxedEnvironment that also refuses ``list.append``,
    ``dict.update`` …) because one event envelope is shared by every rule that renders it.
    StrictUndefined so a typo in a path is an error rather than an empty string.
    """
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=_finalize
    )
    env.filters.update(FILTERS)
    return env


ENV = make_environment()


def is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)
