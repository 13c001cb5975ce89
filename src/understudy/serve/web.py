"""The web chat page at `/`: one static HTML file, no build step."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)
PAGE = Path(__file__).parent / "static" / "index.html"
# A speech bubble in the page's blue: browsers ask for /favicon.ico on every visit.
ICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
        '<path fill="#2f66e0" d="M2 2h12a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H7l-4 3v-3H2a1 1 0 0 '
        '1-1-1V3a1 1 0 0 1 1-1z"/></svg>')


@cache
def page() -> str:
    return PAGE.read_text(encoding="utf-8")


@router.get("/", response_class=HTMLResponse)
def index() -> HTMLResponse:
    return HTMLResponse(page(), headers={"Cache-Control": "no-cache"})


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(ICON, media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})
