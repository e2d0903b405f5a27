"""The error tree. Each error carries the data its handler needs.

HTTP-facing errors carry ``status`` and ``code``; one exception handler in ``app.py`` (and
the request path in ``ingest.py``) turns them into ``error_body``: ``{"error": ..., "code": ...}``.
Delivery errors carry ``retryable`` and a ``reason`` for the delivery log. Config errors carry located problems.
"""

from __future__ import annotations

from dataclasses import dataclass


def error_body(code: str, message: str) -> dict[str, str]:
    """The JSON body of every refused request, wherever it is refused."""
    return {"error": message, "code": code}


class HookyardError(Exception):
    """Base of every error Hookyard raises on purpose."""


class HTTPError(HookyardError):
    status = 400
    code = "bad_request"
    retry_after: int | None = None  # seconds, sent as ``Retry-After`` when set

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class NotFound(HTTPError):
    status = 404
    code = "not_found"


class PayloadTooLarge(HTTPError):
    status = 413
    code = "body_too_large"


class StoreUnavailable(HTTPError):
    """The store cannot be opened or cannot write: one line, no credentials in it.
    Nothing of the request was stored, so a sender may retry."""

    status = 503
    code = "store_unavailable"
    retry_after = 5


class StoreBusy(StoreUnavailable):
    """A write did not get the store's write lock within ``storage.busy_timeout_seconds``
    (another process holds it): nothing was written; retry after ``retry_after`` seconds."""

    code = "store_busy"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class VerificationError(HTTPError):
    """A request whose signature, token or timestamp does not check out (401).

    ``code`` is one of: ``signature_missing``, ``signature_malformed``,
    ``signature_mismatch``, ``timestamp_missing``, ``timestamp_malformed``,
    ``timestamp_stale``, ``timestamp_future``, ``token_mismatch``.
    """

    status = 401
    code = "signature_mismatch"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass(frozen=True)
class Problem:
    """One located problem in a config or rule file."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(HookyardError):
    """A config or rule file that cannot be loaded; ``problems`` say where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class DeliveryError(HookyardError):
    """A failed attempt at a delivery.

    ``retryable`` says whether another attempt may succeed; ``retry_after`` (seconds)
    is the destination's own hint (``Retry-After``), if it gave one.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
        response_excerpt: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.response_excerpt = response_excerpt
