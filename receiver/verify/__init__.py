"""The signature-verification schemes: one module per scheme, one registry.

``SCHEMES`` maps a ``verify.scheme`` value to its :class:`SchemeSpec`; built-ins and
any later addition go through the same door. ``build_verifier`` validates a source's
``verify:`` block with the scheme's ``Options`` model and builds the verifier once, at
config load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from receiver.secret import Secret
from receiver.verify import github, hmac, none, slack, standard, stripe, token
from receiver.verify.base import Verifier

SignFn = Callable[..., dict[str, str]]


@dataclass(frozen=True)
class SchemeSpec:
    """How a scheme plugs in: its options model, its builder and its sender-side signer.

    ``build(options, secrets)`` raises ValueError for unusable secrets;
    ``sign(options, secret, body, now, *, delivery_id=None)`` returns the headers a sender adds.
    """

    name: str
    options: type[BaseModel]
    build: Callable[[Any, Sequence[Secret]], Verifier]
    sign: SignFn


SCHEMES: dict[str, SchemeSpec] = {
    module.SCHEME: SchemeSpec(module.SCHEME, module.Options, module.build, module.sign)
    for module in (stripe, github, standard, slack, hmac, token, none)
}


def build_verifier(scheme: str, options: Mapping[str, Any], secrets: Sequence[Secret]) -> Verifier:
    """Validate ``options`` (pydantic ValidationError propagates) and build the verifier.

    Raises ValueError for an unknown scheme or secrets the scheme cannot use.
    """
    spec = SCHEMES.get(scheme)
    if spec is None:
        raise ValueError(f"unknown verify scheme {scheme!r}; known: {', '.join(sorted(SCHEMES))}")
    return spec.build(spec.options.model_validate(dict(options)), secrets)


__all__ = ["SCHEMES", "SchemeSpec", "build_verifier"]
