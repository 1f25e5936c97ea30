"""The web pages served beside the API: the buyer's chat window (`/widget.js`), a sample product
page that embeds it (`/demo`) and the agents' console (`/console`).

The files are package data of `bot.faces.http.web`, read with `importlib.resources` once per
process (they change only with a new release). Plain HTML, CSS and JavaScript: nothing is built and
nothing is fetched from elsewhere, so the pages work on an offline machine.
"""

from __future__ import annotations

import functools
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import Response

from bot.faces.http import errors

_PACKAGE = "bot.faces.http.web"
_TYPES = {
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
}
# The pages change with a release, not while it runs: a browser may keep them for a minute.
_CACHE = {"Cache-Control": "public, max-age=60"}


def mount(app: FastAPI) -> None:
    """Add `GET /widget.js`, `/demo`, `/console` and `/web/{name}` (their styles and scripts) to `app`,
    none of them in the OpenAPI document."""

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> Response:
        return _file("widget.js")

    @app.get("/demo", include_in_schema=False)
    def demo() -> Response:
        return _file("demo.html")

    @app.get("/console", include_in_schema=False)
    def console() -> Response:
        return _file("console.html")

    @app.get("/web/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in _assets():
            return errors.response("http-error", status=404, what="没有这个文件", detail=f"no file {name}")
        return _file(name)


@functools.cache
def _assets() -> frozenset[str]:
    """The file names `/web/{name}` serves: the package's files of a known type, nothing else."""
    return frozenset(
        entry.name
        for entry in resources.files(_PACKAGE).iterdir()
        if entry.is_file() and _suffix(entry.name) in _TYPES
    )


@functools.cache
def _read(name: str) -> bytes:
    return resources.files(_PACKAGE).joinpath(name).read_bytes()


def _file(name: str) -> Response:
    return Response(_read(name), media_type=_TYPES[_suffix(name)], headers=_CACHE)


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""


__all__ = ["mount"]
