"""The HTTP face of the web service (Starlette): translation only. A request becomes
a use case of :mod:`mhin_web.app` called with the signed-in user's token, its answer
a page; bad input a 4xx page saying what is wrong, never a stack trace."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from mhin_web import domain
from mhin_web.app import (
    EvaluationView,
    GovernanceView,
    OverviewView,
    Refused,
    Services,
    SignedOut,
)
from mhin_web.domain import BadRequest, Table
from mhin_web.events import Follower, Hub

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SESSION_COOKIE = "mhin_session"
CSRF_COOKIE = "mhin_csrf"
KEEPALIVE_SECONDS = 15.0
# A page told of a change waits until evaluation's answer holds it (evaluation reads
# the same aggregates from its own topic), polling this often, at most this long.
CATCH_UP_POLL_SECONDS = 0.05
CATCH_UP_LIMIT_SECONDS = 3.0
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                        autoescape=select_autoescape(["html"]))


class SecurityHeaders:
    """A strict Content-Security-Policy (no inline script, nothing from another site)
    and its companions on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


# ----------------------------------------------------------------- pages and cookies

def csrf_token(request: Request) -> str:
    """The browser's CSRF token (its cookie), or a new one the response will set."""
    if CSRF_COOKIE in request.cookies:
        return request.cookies[CSRF_COOKIE]
    if getattr(request.state, "new_csrf", None) is None:
        request.state.new_csrf = secrets.token_urlsafe(32)
    return request.state.new_csrf


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    body = templates.get_template(template).render(
        csrf=csrf_token(request), session=getattr(request.state, "session", None),
        path=request.url.path, **context)
    response = HTMLResponse(body, status_code=status)
    if getattr(request.state, "new_csrf", None) is not None:
        set_cookie(request, response, CSRF_COOKIE, request.state.new_csrf)
    return response


def set_cookie(request: Request, response: Response, name: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return page(request, "error.html", status=status, title=title, message=message)


def to_sign_in(request: Request, reason: str = "") -> RedirectResponse:
    response = RedirectResponse("/sign-in" + (f"?reason={reason}" if reason else ""), 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class NotSignedIn(Exception):
    def __init__(self, reason: str = "") -> None:
        self.reason = reason


def signed_in(request: Request) -> str:
    """The user's token from the session cookie; NotSignedIn if none or expired."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotSignedIn()
    try:
        session = domain.read_token(token)
    except BadRequest:
        raise NotSignedIn("invalid") from None
    if session.expired(datetime.now(UTC)):
        raise NotSignedIn("expired")
    request.state.session = session
    return token


async def form_with_csrf(request: Request) -> dict[str, str]:
    """The posted form, once its CSRF token matches the cookie's (double submit:
    the cookie is SameSite=Strict and HttpOnly, so another site can neither send nor
    read it)."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, form.get("csrf", "")):
        raise HTTPException(403, "the form's CSRF token is missing or does not match: "
                                 "reload the page and try again")
    return form


# ----------------------------------------------------------------- routes

def services(request: Request) -> Services:
    return request.app.state.services


async def home(request: Request) -> Response:
    signed_in(request)
    return RedirectResponse("/overview", 303)


async def sign_in_page(request: Request) -> Response:
    reasons = {"expired": "Your session has expired: sign in again.",
               "invalid": "That token is not valid: sign in again.",
               "signed-out": "You have signed out."}
    return page(request, "sign_in.html", notice=reasons.get(request.query_params.get(
        "reason", ""), ""), error="")


async def sign_in(request: Request) -> Response:
    form = await form_with_csrf(request)
    token = form.get("token", "").strip()
    problem = ""
    try:
        session = domain.read_token(token)
        if session.expired(datetime.now(UTC)):
            problem = "That token has expired: issue a new one (mhin token issue)."
        else:
            await services(request).check_token(token)
    except BadRequest as bad:
        problem = f"That is not a bearer token: {bad.message}."
    except SignedOut as refused:
        problem = f"The services refused that token: {refused}."
    if problem:
        return page(request, "sign_in.html", status=400, notice="", error=problem)
    response = RedirectResponse("/overview", 303)
    max_age = int((session.expires_at - datetime.now(UTC)).total_seconds())
    set_cookie(request, response, SESSION_COOKIE, token, max_age=max_age)
    return response


async def sign_out(request: Request) -> Response:
    await form_with_csrf(request)
    return to_sign_in(request, "signed-out")


def overview_tables(view: OverviewView) -> dict[str, Table]:
    """Each table of the overview by the name its CSV download is found under."""
    tables = {f"needs-{number}": table
              for number, table in enumerate(view.needs.tables, start=1)}
    if view.solutions.tables:
        tables["solutions"] = view.solutions.tables[0]
    if view.ranking.extra:
        tables["ranking"] = view.ranking.extra.table()
        tables["ranges"] = view.ranking.extra.ranges_table()
    return tables


async def overview(request: Request) -> Response:
    token = signed_in(request)
    view = await services(request).overview_page(token)
    ranking = view.ranking.extra
    return page(
        request, "overview.html", view=view,
        counts_json=[json.dumps({"title": table.caption, "what": table.header[0],
                                 "bars": [{"label": name, "count": int(count)}
                                          for name, count in table.rows]})
                     for table in view.needs.tables],
        ranking_json=json.dumps({"title": ranking.title, "bars": [
            {"label": f"{o.rank}. {o.option}", "total": round(o.total, 2)}
            for o in ranking.options]}) if ranking else "",
        ranges_json=json.dumps({"top": ranking.top_option, "ranges": [
            {"criterion": r.criterion, "weight": r.weight, "lower": round(r.lower, 1),
             "upper": round(r.upper, 1)} for r in ranking.ranges]}) if ranking else "")


async def governance(request: Request) -> Response:
    token = signed_in(request)
    view = await services(request).governance_page(token)
    involvement = view.involvement.tables[0].rows if view.involvement.tables else []
    return page(request, "governance.html", view=view, involvement_json=json.dumps({"bars": [
        {"label": f"{row[1]}: {row[0]}", "hours": float(row[5])}
        for row in involvement if row[1] != "All kinds"]}))


def governance_tables(view: GovernanceView) -> dict[str, Table]:
    return {name: part.tables[0] for name, part in (
        ("meetings", view.meetings), ("decisions", view.decisions),
        ("involvement", view.involvement)) if part.tables}


def csv_response(table: Table, name: str) -> Response:
    return Response(table.csv(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}.csv"'})


def table_download(tables: dict[str, Table], name: str, page_name: str) -> Response:
    if name not in tables:
        raise HTTPException(404, f"the {page_name} has no table {name!r} to download")
    return csv_response(tables[name], f"mhin-{name}")


async def overview_csv(request: Request) -> Response:
    view = await services(request).overview_page(signed_in(request))
    return table_download(overview_tables(view), request.path_params["table"], "overview")


async def governance_csv(request: Request) -> Response:
    view = await services(request).governance_page(signed_in(request))
    return table_download(governance_tables(view), request.path_params["table"],
                          "governance page")


def query_of(request: Request) -> dict[str, str]:
    return dict(request.query_params)


async def evaluation(request: Request) -> Response:
    token = signed_in(request)
    query = query_of(request)
    if not query.get("project"):
        projects = await services(request).projects_list(token)
        return page(request, "evaluation_projects.html", projects=projects)
    view = await services(request).evaluation_page(token, query)
    return page(request, "evaluation.html", view=view, live=render_live(request, view),
                follow_query=follow_query(view))


def follow_query(view: EvaluationView) -> str:
    wanted = view.request
    return urlencode({"project": wanted.project_id, "measure": wanted.measure_id,
                      "level": wanted.level.value, "unit": wanted.unit,
                      "stratum": wanted.stratum, "by": view.stratifier})


def render_live(request: Request, view: EvaluationView) -> str:
    """The part of the evaluation page that changes live: charts, tables, downloads."""
    spc_table = domain.spc_rows(view.spc) if view.spc else None
    breakdown_table = domain.breakdown_rows(view.breakdown) if view.breakdown else None
    impact = view.impact.chart if view.impact else None
    return templates.get_template("evaluation_live.html").render(
        view=view, spc_table=spc_table, breakdown_table=breakdown_table,
        impact_table=domain.impact_rows(impact) if impact else None,
        impact_json=json.dumps(impact_data(impact)) if impact else "",
        spc_json=json.dumps(spc_data(view)) if view.spc else "",
        breakdown_json=json.dumps(breakdown_data(view)) if view.breakdown else "",
        query=follow_query(view), updated=time.strftime("%H:%M:%S"))


def spc_data(view: EvaluationView) -> dict[str, Any]:
    chart = view.spc
    assert chart is not None
    return {
        "title": chart.title, "mean": chart.mean, "upper": chart.upper_limit,
        "lower": chart.lower_limit, "trial": not chart.limits_reliable,
        "limitsLabel": chart.limits_label,
        "points": [{
            "period": point.period, "value": None if point.suppressed else point.value,
            "suppressed": point.suppressed, "variation": point.marker.label,
            "description": f"{point.period}: {point.shown_value}, {point.marker.label.lower()}"
                           + (f" ({point.reasons})" if point.reasons else ""),
        } for point in chart.points],
        "markers": [{"label": marker.label, "colour": marker.colour, "shape": marker.shape}
                    for marker in domain.MARKERS.values()],
    }


def impact_data(chart: domain.ImpactChart) -> dict[str, Any]:
    """The charted values: exactly the rows of ``domain.impact_rows``."""
    lines = []
    for p in chart.periods:
        for name, value in (("Observed", p.observed), ("Fitted", p.fitted),
                            ("Counterfactual", p.drawn_counterfactual)):
            if value is not None:
                lines.append({"period": p.period, "series": name, "value": value,
                              "description": f"{p.period}: {name.lower()} "
                                             f"{domain.figure(value)}"})
    return {"title": chart.title, "goLive": chart.go_live_period,
            "goLiveLabel": f"Go-live {chart.go_live_date}",
            "periods": [p.period for p in chart.periods], "lines": lines}


def breakdown_data(view: EvaluationView) -> dict[str, Any]:
    breakdown = view.breakdown
    assert breakdown is not None
    return {"title": f"{breakdown.title} by {breakdown.stratifier}, {breakdown.period}",
            "bars": [{"group": bar.group,
                      "value": None if bar.value_suppressed else bar.value,
                      "suppressed": bar.value_suppressed,
                      "description": f"{bar.group}: {bar.shown_value}"}
                     for bar in breakdown.bars]}


async def evaluation_csv(request: Request) -> Response:
    token = signed_in(request)
    chart = request.path_params["chart"]
    view = await services(request).evaluation_page(token, query_of(request))
    if chart == "spc" and view.spc:
        table = domain.spc_rows(view.spc)
    elif chart == "breakdown" and view.breakdown:
        table = domain.breakdown_rows(view.breakdown)
    elif chart == "impact" and view.impact and view.impact.chart:
        table = domain.impact_rows(view.impact.chart)
    else:
        raise HTTPException(404, f"this series has no {chart} chart to download")
    return csv_response(table, f"{view.request.measure_id}-{view.request.level.value}-{chart}")


async def evaluation_stream(request: Request) -> Response:
    """Server-sent events: the live part of the page now (so a reconnect catches up),
    then again after each change of the followed series."""
    try:
        token = signed_in(request)
    except NotSignedIn:
        return sse_signed_out()
    query = query_of(request)
    view = await services(request).evaluation_page(token, query)  # refusals: a 4xx
    hub: Hub = request.app.state.hub
    follower = hub.follow(view.request.follow_key)
    return StreamingResponse(stream(request, token, query, view, follower, hub),
                             media_type="text/event-stream",
                             headers={"cache-control": "no-store", "x-accel-buffering": "no"})


def sse(event: str, data: str) -> str:
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return f"event: {event}\n{lines}\n"


def sse_signed_out() -> Response:
    return Response(sse("signed-out", "/sign-in?reason=expired"),
                    media_type="text/event-stream")


class SharedRefreshes:
    """Pages of one user on one view, told of the same change, share one refresh: the
    same token and query get the same answer, so one set of gRPC calls serves them
    all (a user with many tabs open, a wall display). Different users never share."""

    def __init__(self) -> None:
        self._running: dict[tuple[str, tuple[tuple[str, str], ...]], asyncio.Task] = {}

    async def refresh(self, request: Request, token: str, query: dict[str, str],
                      view: EvaluationView, changes: list[Any]) -> tuple[EvaluationView, str]:
        key = (token, tuple(sorted(query.items())))
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(self._refresh(request, token, query, view, changes))
            self._running[key] = task
            task.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(task)

    @staticmethod
    async def _refresh(request: Request, token: str, query: dict[str, str],
                       view: EvaluationView, changes: list[Any]) -> tuple[EvaluationView, str]:
        await caught_up(request, token, view, changes)
        fresh = await services(request).evaluation_page(token, query)
        return fresh, render_live(request, fresh)


async def stream(request: Request, token: str, query: dict[str, str], view: EvaluationView,
                 follower: Follower, hub: Hub) -> AsyncIterator[str]:
    shared: SharedRefreshes = request.app.state.refreshes
    try:
        yield "retry: 1000\n\n"
        yield sse("live", render_live(request, view))
        while True:
            try:
                await asyncio.wait_for(follower.woken.wait(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            await asyncio.sleep(CATCH_UP_POLL_SECONDS)  # a batch of changes: fetch once
            changes = follower.take()
            try:
                view, live = await shared.refresh(request, token, query, view, changes)
            except SignedOut:
                yield sse("signed-out", "/sign-in?reason=expired")
                return
            except Refused as refused:
                yield sse("refused", refused.message)
                return
            yield sse("live", live)
    finally:
        hub.leave(follower)


async def caught_up(request: Request, token: str, view: EvaluationView,
                    changes: list[Any]) -> None:
    """Wait (bounded) until evaluation's answer holds the newest change of the page's
    own stratum: the change reached the web from the shared topic, evaluation reads
    it from its own."""
    mine = [c for c in changes if c.stratum == view.request.stratum]
    if not mine:
        return
    newest = max(mine, key=lambda change: change.computed_at)
    deadline = time.monotonic() + CATCH_UP_LIMIT_SECONDS
    while time.monotonic() < deadline:
        known = await services(request).computed_at(token, view.request, newest.stratum,
                                                    newest.period)
        if known >= newest.computed_at:
            return
        await asyncio.sleep(CATCH_UP_POLL_SECONDS)


async def healthz(request: Request) -> Response:
    ready = request.app.state.follower_ready()
    return PlainTextResponse("ok" if ready else "following the topics: not yet",
                             status_code=200 if ready else 503)


# ----------------------------------------------------------------- errors

async def on_bad_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadRequest)
    return error_page(request, 400, "There is a problem with the address",
                      f"{exc.field}: {exc.message}")


async def on_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    titles = {400: "There is a problem with the request", 403: "You cannot see this",
              404: "Page not found", 409: "Not available yet",
              503: "A service is not answering"}
    return error_page(request, exc.status, titles.get(exc.status, "Error"), exc.message)


async def on_not_signed_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotSignedIn)
    return to_sign_in(request, exc.reason)


async def on_signed_out(request: Request, exc: Exception) -> Response:
    return to_sign_in(request, "expired")


async def on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {403: "Forbidden", 404: "Page not found", 405: "Method not allowed"}
    detail = exc.detail if exc.status_code != 404 or exc.detail != "Not Found" else \
        f"There is no page at {request.url.path}."
    return error_page(request, exc.status_code, titles.get(exc.status_code, "Error"), detail)


async def on_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error serving %s", request.url.path)
    return error_page(request, 500, "Sorry, there is a problem with the service",
                      "Try again later.")


def create_app(hub: Hub, follower_ready: Any, lifespan: Any = None) -> Starlette:
    """The app; its lifespan puts the gRPC channels (a ``Services``) in ``state.services``."""
    static = HERE / "static"
    app = Starlette(
        routes=[
            Route("/", home),
            Route("/sign-in", sign_in_page, methods=["GET"]),
            Route("/sign-in", sign_in, methods=["POST"]),
            Route("/sign-out", sign_out, methods=["POST"]),
            Route("/overview", overview),
            Route("/evaluation", evaluation),
            Route("/evaluation/stream", evaluation_stream),
            Route("/evaluation/{chart:str}.csv", evaluation_csv),
            Route("/overview/{table:str}.csv", overview_csv),
            Route("/governance", governance),
            Route("/governance/{table:str}.csv", governance_csv),
            Route("/healthz", healthz),
            Mount("/static", StaticFiles(directory=static), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={
            BadRequest: on_bad_request, Refused: on_refused, NotSignedIn: on_not_signed_in,
            SignedOut: on_signed_out, HTTPException: on_http, Exception: on_error,
        },
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.state.refreshes = SharedRefreshes()
    app.state.follower_ready = follower_ready
    return app

