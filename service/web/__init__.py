"""The newsroom page: one HTML file, its script and its style sheet, shipped in this package.

The app serves the page at ``/`` and the two assets under ``/web/``. Loading them needs no API
key; every API call the page makes sends the key the editor typed. Nothing is fetched from
anywhere else, so the page works offline.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from service.errors import NotFound

ASSETS_DIR = Path(__file__).resolve().parent

# A fixed list, so a request can never name a file outside it.
_ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}

# The script builds every node from text, never from HTML. The policy is the second line of
# defence: no inline script, nothing from another origin. "no-cache" makes the browser check
# the ETag, so an upgraded service never runs last version's script against its API.
_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)

# What the API-key guard leaves open: the page and its assets hold no data.
OPEN_PATHS = frozenset({"/"})
OPEN_PREFIXES = ("/web/",)


@router.get("/")
async def page() -> FileResponse:
    return FileResponse(
        ASSETS_DIR / "index.html", media_type="text/html; charset=utf-8", headers=_HEADERS
    )


@router.get("/web/{name}")
async def asset(name: str) -> FileResponse:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise NotFound(f"no page asset named {name!r}")
    return FileResponse(ASSETS_DIR / name, media_type=media_type, headers=_HEADERS)
