"""``/api/openapi.json``: the OpenAPI 3.1 document of the JSON API, made from the endpoint
table (``api.API``, rows of :class:`Endpoint`) and the models the handlers answer with (``models.py``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from receiver.web import models


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    enum: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Endpoint:
    path: str
    method: str
    summary: str
    handler: str  # the Api method's name
    ok: type[BaseModel]
    ok_status: tuple[int, ...] = (200,)
    params: tuple[Param, ...] = ()
    errors: tuple[int, ...] = (400, 401, 403, 429)
    body: type[BaseModel] | None = None  # the JSON request body's model


REF = "#/components/schemas/{model}"
_ERROR_TEXT = {
    400: "a query parameter is not valid",
    401: "a valid token is required (web.token)",
    403: "refused: not a loopback client without a token, or another origin",
    404: "no such thing",
    409: "not in a state that allows this",
    429: "too many wrong tokens from this address (see Retry-After)",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def document(api: Sequence[Endpoint]) -> dict[str, Any]:
    bodies = {e.body for e in api if e.body is not None}
    used = sorted({e.ok for e in api} | bodies | {models.Error}, key=lambda m: m.__name__)
    _, schemas = models_json_schema([(m, "serialization") for m in used], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for e in api:
        path_params = re.findall(r"{(\w+)}", e.path)
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in path_params
        ] + [
            {
                "name": p.name,
                "in": "query",
                "required": False,
                "description": p.description,
                "schema": {"type": "string", **({"enum": list(p.enum)} if p.enum else {})},
            }
            for p in e.params
        ]
        responses = {str(status): _json(e.ok, e.summary) for status in e.ok_status}
        errors = (*e.errors, 404) if path_params else e.errors
        responses |= {str(status): _json(models.Error, _ERROR_TEXT[status]) for status in sorted(set(errors))}
        operation: dict[str, Any] = {"summary": e.summary, "operationId": e.handler, "responses": responses}
        if parameters:
            operation["parameters"] = parameters
        if e.body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(e.body)}}}
        paths.setdefault(e.path, {})[e.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Hookyard delivery log", "version": "1"},
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer", "description": "web.token"}},
        },
        "security": [{"token": []}],
        "paths": paths,
    }


def openapi_endpoint(api: Sequence[Endpoint]) -> Callable[[Request], Awaitable[Response]]:
    """``GET /api/openapi.json`` for the endpoint table ``api``: the document (~20 ms of schema
    generation) is made on the first request, not at every app start, then kept."""
    made = functools.cache(lambda: document(api))

    async def endpoint(request: Request) -> Response:
        return JSONResponse(made())

    return endpoint
