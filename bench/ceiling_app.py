"""The ceiling: a bare Starlette endpoint that only reads the body and answers 202."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hook(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"event_id": "x", "duplicate": False}, status_code=202)


app = Starlette(routes=[Route("/hooks/{source_id}", hook, methods=["POST"])])
