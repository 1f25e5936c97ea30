"""An example answer for every route in the OpenAPI document (/docs, /redoc, /openapi.json).

The examples are real answers of the shipped shop (`openapi-examples.json`, package data), keyed by
"METHOD path"; the test that checks every route has one also checks each still fits its route's
response model, so that the page never shows a shape the API no longer gives.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from fastapi import FastAPI

_TEXT = {
    "/metrics": "text/plain",
    "/v1/events": "text/event-stream",
    "/v1/sessions/{session_id}/events": "text/event-stream",
}


@functools.cache
def examples() -> dict[str, Any]:
    """'METHOD path' → the example body of its 200 answer."""
    text = resources.files("bot.faces.http").joinpath("openapi-examples.json").read_text(encoding="utf-8")
    found: dict[str, Any] = json.loads(text)
    return found


def install(app: FastAPI) -> None:
    """Put each route's example into the app's OpenAPI document as it is first built."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for route, example in examples().items():
            method, path = route.split(" ", 1)
            operation = schema["paths"].get(path, {}).get(method.lower())
            if operation is None:
                continue  # a route this app does not serve
            answer = operation.setdefault("responses", {}).setdefault("200", {"description": "OK"})
            media = _TEXT.get(path, "application/json")
            content = answer.setdefault("content", {})
            if media != "application/json":
                content.pop("application/json", None)  # a stream or a text page, not JSON
            content.setdefault(media, {})["example"] = example
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["examples", "install"]
