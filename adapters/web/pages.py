"""The web interface's routes: one HTML page per task, and the static files they use.

Pages are rendered on the server (Jinja2) as shells: the layout, navigation, forms and labels.
The data comes from the JSON API, called by the page's script with the token the user signed in
with (kept in `sessionStorage`, so it dies with the tab and is never sent to a page route). So a
page holds nothing confidential, needs no session on the server, and every access rule stays the
API's. Static files are served by name from `static/` only (no paths, no hidden files, known types).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from core.errors import NotFound
from core.incidents.accounts import Kind
from core.incidents.state import Status

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
router = APIRouter(include_in_schema=False)

#: Navigation: (path, label). The metrics dashboard is at /dashboard: /metrics is Prometheus.
NAV = (("/incidents", "Incidents"), ("/hotline", "Hotline"), ("/inspections", "Inspections"),
       ("/dashboard", "Metrics"), ("/audit", "Audit"))
MEDIA = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
NO_STORE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self' data:; "
                                       "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"}


def page(template: str, *, active: str = "", **context: object) -> HTMLResponse:
    html = templates.get_template(template).render(nav=NAV, active=active, **context)
    return HTMLResponse(html, headers=NO_STORE)


@router.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse("/incidents", status_code=303)


@router.get("/signin")
async def signin() -> HTMLResponse:
    return page("signin.html", title="Sign in")


@router.get("/incidents")
async def incidents() -> HTMLResponse:
    return page("incidents.html", title="Incidents", active="/incidents",
                kinds=[k.value for k in Kind], statuses=[s.value for s in Status])


@router.get("/incidents/new")
async def new_incident() -> HTMLResponse:
    return page("incident_form.html", title="File a report", active="/incidents", kinds=[k.value for k in Kind],
                incident_id=None)


@router.get("/incidents/{incident_id}")
async def incident(incident_id: str) -> HTMLResponse:
    return page("incident.html", title=f"Incident {incident_id}", active="/incidents", incident_id=incident_id,
                kinds=[k.value for k in Kind])


@router.get("/hotline")
async def hotline() -> HTMLResponse:
    return page("hotline.html", title="Hotline", active="/hotline")


@router.get("/inspections")
async def inspections() -> HTMLResponse:
    return page("inspections.html", title="Inspections", active="/inspections")


@router.get("/dashboard")
async def dashboard() -> HTMLResponse:
    return page("dashboard.html", title="Metrics", active="/dashboard")


@router.get("/audit")
async def audit() -> HTMLResponse:
    return page("audit.html", title="Audit", active="/audit")


@router.get("/static/{name}")
async def static(name: str) -> Response:
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in MEDIA or not path.is_file():
        raise NotFound(f"no static file {name}")
    return FileResponse(path, media_type=MEDIA[path.suffix], headers={"Cache-Control": "no-cache"})
