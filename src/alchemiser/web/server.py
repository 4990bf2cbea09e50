"""The aiohttp application: pages, the JSON API under /api, server-sent events, and the guards.

aiohttp is already a dependency (the sandbox server uses it), so the dashboard adds no web framework.
Every handler's output comes from the same functions the JSON API returns, so a page and `/api/...`
cannot disagree. Errors never show a traceback: request problems are 400 with a message naming the
field, anything unexpected is logged and answered with a short 500 message.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from aiohttp.web_runner import GracefulExit

from alchemiser.errors import AlchemiserError
from alchemiser.formatting import json_ready
from alchemiser.strategies.registry import BUILTINS
from alchemiser.web import backtests, controls, decision, queries, security, sleeves, sweep_routes
from alchemiser.web.context import WebContext
from alchemiser.web.queries import QueryError

log = logging.getLogger(__name__)

CTX = web.AppKey("ctx", WebContext)
TOKEN = web.AppKey("token", str)
CSRF = web.AppKey("csrf", str)
RUNNER = web.AppKey("runner", controls.Runner)
BACKTESTS = web.AppKey("backtests", backtests.Backtests)
STOPPING = web.AppKey("stopping", asyncio.Event)
ENV = web.AppKey("env", jinja2.Environment)
MAX_BODY = 16 * 1024
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
SSE_POLL_S = 1.0  # how often the event stream looks at the ledger for a finished run
STATIC = Path(__file__).parent / "static"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _plotly_js() -> Path:
    """plotly.min.js as bundled in the `plotly` package: charts work without internet."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _json(payload: Any, status: int = 200) -> web.Response:
    # the CLI's `--json` convention (money as numbers in cents, strict JSON), so the API and `--json` agree
    return web.json_response(json_ready(payload), status=status, dumps=lambda v: json.dumps(v, allow_nan=False))


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def _error(request: web.Request, status: int, message: str) -> web.Response:
    if _is_api(request):
        return _json({"error": message}, status)
    env = request.app[ENV]
    body = env.get_template("error.html").render(status=status, message=message, csrf="", nav="")
    return web.Response(text=body, status=status, content_type="text/html")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Token (off loopback), CSRF and Origin checks, then error translation."""
    ctx, token = request.app[CTX], request.app[TOKEN]
    if ctx.loopback and request.url.host not in LOOPBACK_NAMES:
        # a page from another site whose name was re-pointed at 127.0.0.1 (DNS rebinding) is refused
        return _error(request, 421, f"Host {request.host!r} is not this loopback dashboard's address")
    if not ctx.loopback and request.path not in ("/login",) and not request.path.startswith("/static/"):
        given = security.bearer(request.headers.get("Authorization")) or request.cookies.get(security.COOKIE)
        if not security.same(given, token):
            return _error(
                request,
                401,
                "this dashboard is bound beyond loopback: open /login?token=… with the "
                f"token from {ctx.home / security.TOKEN_FILE}, or send Authorization: Bearer <token>",
            )
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if not security.same(request.headers.get(security.CSRF_HEADER), request.app[CSRF]):
            return _error(request, 403, f"missing or wrong {security.CSRF_HEADER} header (reload the page)")
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            return _error(request, 403, f"cross-origin request from {origin} refused")
    started = time.perf_counter()
    try:
        response = await handler(request)
        if not response.prepared:  # streams (SSE) have sent their headers already
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(request, exc.status, exc.reason)
        raise
    except QueryError as exc:
        return _error(request, 400 if "no run" not in str(exc) else 404, str(exc))
    except AlchemiserError as exc:
        return _error(request, 422, str(exc))
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("web request %s %s failed", request.method, request.path)
        return _error(request, 500, "internal error; the details are in the log ($ALCHEMISER_HOME/logs)")


async def _body(request: web.Request, allowed: dict[str, type] | None) -> dict[str, Any]:
    """A strict JSON object body: only `allowed` keys, each of its type; the message names the field.
    With `allowed=None` the caller checks the fields itself."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise QueryError(f"body: larger than {MAX_BODY} bytes")
    raw = await request.read()  # bounded by client_max_size (MAX_BODY): larger bodies get a 413
    try:
        data = json.loads(raw or b"{}", parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise QueryError(f"body: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise QueryError("body: expected a JSON object")
    if allowed is None:
        return data
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise QueryError(f"body: unknown field(s): {', '.join(unknown)}")
    for key, kind in allowed.items():
        if key not in data:
            raise QueryError(f"{key}: required")
        value = data[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise QueryError(f"{key}: expected {kind.__name__}, got {type(value).__name__}")
    return data


def _query(request: web.Request, allowed: set[str]) -> dict[str, str]:
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        raise QueryError(f"unknown query parameter(s): {', '.join(unknown)}")
    return {k: request.query[k] for k in request.query}


async def _off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """Ledger reads and strategy evaluation are blocking; keep the event loop (and SSE) responsive."""
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def _page(request: web.Request, template: str, nav: str, **data: Any) -> web.Response:
    env = request.app[ENV]
    body = env.get_template(template).render(csrf=request.app[CSRF], nav=nav, **data)
    return web.Response(text=body, content_type="text/html")


# ------------------------------------------------------------------------------------------ API


async def api_overview(request: web.Request) -> web.Response:
    _query(request, set())
    return _json(await _off_loop(queries.overview, request.app[CTX]))


async def api_runs(request: web.Request) -> web.Response:
    flt = queries.RunFilter.parse(dict(request.query))
    return _json(await _off_loop(queries.runs, request.app[CTX], flt))


async def api_run(request: web.Request) -> web.Response:
    _query(request, set())
    return _json(await _off_loop(queries.run_detail, request.app[CTX], request.match_info["run_id"]))


def _decision_args(request: web.Request) -> tuple[str, dt.date | None, str | None]:
    q = _query(request, {"strategy", "as_of", "run_id"})
    ctx = request.app[CTX]
    strategy = q.get("strategy") or ctx.settings.strategies[0].name
    as_of_text = q.get("as_of") or None
    run_id = q.get("run_id") or None
    if as_of_text and run_id:
        raise QueryError("as_of: give either as_of or run_id, not both")
    as_of = None
    if as_of_text:
        try:
            as_of = dt.date.fromisoformat(as_of_text)
        except ValueError:
            raise QueryError(f"as_of: expected a date like 2024-03-15, not {as_of_text!r}") from None
    return strategy, as_of, run_id


async def api_decision(request: web.Request) -> web.Response:
    strategy, as_of, run_id = _decision_args(request)
    return _json(await _off_loop(decision.decision, request.app[CTX], strategy, as_of, run_id))


async def api_strategies(request: web.Request) -> web.Response:
    _query(request, set())
    return _json(await _off_loop(sleeves.sleeves, request.app[CTX]))


async def page_strategies(request: web.Request) -> web.Response:
    _query(request, set())
    data = await _off_loop(sleeves.sleeves, request.app[CTX])
    return _page(request, "strategies.html", "strategies", s=data)


async def api_controls(request: web.Request) -> web.Response:
    _query(request, set())
    data = await _off_loop(controls.state, request.app[CTX])
    return _json({**data, "run": request.app[RUNNER].state()})


async def api_pause(request: web.Request) -> web.Response:
    body = await _body(request, {"strategy": str, "paused": bool})
    return _json(await _off_loop(controls.set_paused, request.app[CTX], body["strategy"], body["paused"]))


async def api_liquidate(request: web.Request) -> web.Response:
    body = await _body(request, {"broker": str})
    return _json(await _off_loop(request.app[RUNNER].liquidate, body["broker"]), 202)


async def api_kill(request: web.Request) -> web.Response:
    body = await _body(request, {"on": bool})
    return _json(await _off_loop(controls.set_kill, request.app[CTX], body["on"]))


async def api_run_now(request: web.Request) -> web.Response:
    body = await _body(request, {"broker": str})
    return _json(await _off_loop(request.app[RUNNER].start, body["broker"]), 202)


async def api_backtest_start(request: web.Request) -> web.Response:
    raw = await _body(request, None)  # strict JSON object; its fields are checked by BacktestRequest
    return _json(request.app[BACKTESTS].submit(backtests.BacktestRequest.parse(raw, request.app[CTX])).state(), 202)


async def api_backtests(request: web.Request) -> web.Response:
    _query(request, set())
    return _json({"jobs": request.app[BACKTESTS].listing()})


async def api_backtest_rerun(request: web.Request) -> web.Response:
    await _body(request, {})
    return _json(request.app[BACKTESTS].rerun(request.match_info["job"]).state(), 202)


async def api_backtest(request: web.Request) -> web.Response:
    q = _query(request, {"charts"})
    charts = q.get("charts", "1")
    if charts not in ("0", "1"):
        raise QueryError("charts: 0 or 1")
    return _json(request.app[BACKTESTS].get(request.match_info["job"]).state(with_charts=charts == "1"))


async def backtest_file(request: web.Request) -> web.FileResponse:
    _query(request, set())
    job = request.app[BACKTESTS].get(request.match_info["job"])
    name = request.match_info["name"]
    if name not in backtests.FILES or job.status != "done" or not (job.folder / name).exists():
        raise web.HTTPNotFound(reason=f"name: no file {name!r} for backtest {job.id}")
    disposition = "inline" if name.endswith((".html", ".png")) else f'attachment; filename="{name}"'
    return web.FileResponse(job.folder / name, headers={"Content-Disposition": disposition})


async def api_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `run` whenever a run starts or finishes, so pages refresh without reloading."""
    _query(request, set())
    ctx, stopping = request.app[CTX], request.app[STOPPING]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    marker = await _off_loop(queries.change_marker, ctx)
    await response.write(f"event: hello\ndata: {json.dumps(marker)}\n\n".encode())
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), SSE_POLL_S)
        current = await _off_loop(queries.change_marker, ctx)
        try:
            if current != marker:
                marker = current
                await response.write(f"event: run\ndata: {json.dumps(marker)}\n\n".encode())
            else:
                await response.write(b": keep-alive\n\n")
        except (ConnectionResetError, RuntimeError):
            break
    return response


# ------------------------------------------------------------------------------------------ pages


async def page_overview(request: web.Request) -> web.Response:
    _query(request, set())
    data = await _off_loop(queries.overview, request.app[CTX])
    c = await _off_loop(controls.state, request.app[CTX])
    return _page(request, "overview.html", "overview", o=data, run=request.app[RUNNER].state(), c=c)


async def page_runs(request: web.Request) -> web.Response:
    flt = queries.RunFilter.parse(dict(request.query))
    data = await _off_loop(queries.runs, request.app[CTX], flt)
    return _page(request, "runs.html", "runs", r=data, f=flt)


async def page_run(request: web.Request) -> web.Response:
    _query(request, set())
    data = await _off_loop(queries.run_detail, request.app[CTX], request.match_info["run_id"])
    return _page(request, "run.html", "runs", rep=data)


async def page_decision(request: web.Request) -> web.Response:
    strategy, as_of, run_id = _decision_args(request)
    data = await _off_loop(decision.decision, request.app[CTX], strategy, as_of, run_id)
    names = [s.name for s in request.app[CTX].settings.strategies]
    return _page(request, "decision.html", "decision", d=data, names=names)


async def page_backtests(request: web.Request) -> web.Response:
    shown = _query(request, {"job"}).get("job") or ""
    jobs = request.app[BACKTESTS]
    if shown:
        jobs.get(shown)  # an unknown id is a 400 naming it, not an empty page
    ctx = request.app[CTX]
    names = sorted({s.name for s in ctx.settings.strategies} | set(BUILTINS))
    configured = {s.name: s.weight for s in ctx.settings.strategies}
    return _page(
        request, "backtests.html", "backtests", names=names, configured=configured, jobs=jobs.listing(), shown=shown
    )


async def page_login(request: web.Request) -> web.Response:
    token = request.query.get("token")
    if not security.same(token, request.app[TOKEN]):
        return _error(request, 401, "token: wrong or missing; it is in the home's web_token file")
    response = web.HTTPFound("/")
    response.set_cookie(security.COOKIE, request.app[TOKEN], httponly=True, samesite="Strict")
    raise response


async def static_file(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name == "plotly.min.js":
        return web.FileResponse(_plotly_js())
    if name not in {p.name for p in STATIC.iterdir()}:
        raise web.HTTPNotFound(reason=f"no static file {name!r}")
    return web.FileResponse(STATIC / name)


def _filters(env: jinja2.Environment) -> None:
    def pct(value: Any, digits: int = 2) -> str:
        return "—" if value is None else f"{float(value) * 100:.{digits}f}%"

    def money(value: Any) -> str:
        return "—" if value is None else f"${float(value):,.2f}"

    def signed(value: Any) -> str:
        return "—" if value is None else f"{float(value):+,.2f}"

    env.filters.update(pct=pct, money=money, signed=signed)


def make_app(ctx: WebContext, token: str) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("alchemiser.web", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    _filters(env)
    app[CTX], app[TOKEN], app[CSRF], app[ENV] = ctx, token, secrets.token_urlsafe(32), env
    app[RUNNER] = controls.Runner(ctx)
    app[BACKTESTS] = backtests.Backtests(ctx)
    app[STOPPING] = asyncio.Event()

    async def on_shutdown(app: web.Application) -> None:
        app[STOPPING].set()
        app[RUNNER].stop()
        app[BACKTESTS].stop()

    app.on_shutdown.append(on_shutdown)
    app.add_routes(
        [
            web.get("/", page_overview),
            web.get("/strategies", page_strategies),
            web.get("/api/strategies", api_strategies),
            web.get("/runs", page_runs),
            web.get("/runs/{run_id}", page_run),
            web.get("/decision", page_decision),
            web.get("/backtests", page_backtests),
            web.get("/login", page_login),
            web.get("/static/{name}", static_file),
            web.get("/api/overview", api_overview),
            web.get("/api/runs", api_runs),
            web.get("/api/runs/{run_id}", api_run),
            web.get("/api/decision", api_decision),
            web.get("/api/controls", api_controls),
            web.post("/api/controls/kill", api_kill),
            web.post("/api/controls/run", api_run_now),
            web.post("/api/controls/pause", api_pause),
            web.post("/api/controls/liquidate", api_liquidate),
            web.get("/api/events", api_events),
            web.get("/api/backtests", api_backtests),
            web.post("/api/backtests", api_backtest_start),
            web.post("/api/backtests/{job}/rerun", api_backtest_rerun),
            web.get("/api/backtests/{job}", api_backtest),
            web.get("/api/backtests/{job}/files/{name}", backtest_file),
            *sweep_routes.routes(CTX, _page, _json, _query, _off_loop),
        ]
    )
    return app


def _warm(ctx: WebContext) -> None:
    """Compute the overview and the sleeves once at start-up; a problem here is the page's to report."""
    try:
        queries.overview(ctx)
        sleeves.sleeves(ctx)
    except Exception:  # the same call on a request reports it properly; here it is only logged
        log.warning("warming the dashboard's caches failed", exc_info=True)


def serve(ctx: WebContext, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Run until interrupted. Off loopback the token is created (0600) and required."""
    token = security.load_or_create_token(ctx.home)
    app = make_app(ctx, token)

    async def main() -> None:
        # signal handlers can only be installed from the main thread (an embedding caller may use another)
        in_main = threading.current_thread() is threading.main_thread()
        runner = web.AppRunner(app, handle_signals=in_main, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        # fill the caches (market data, compiled strategies, daily marks, sleeves) off the request path, so
        # the first page a user opens is as fast as the rest
        warming = asyncio.get_running_loop().run_in_executor(None, _warm, ctx)
        bound = runner.addresses[0][1] if runner.addresses else port
        where = f"http://{host if ':' not in host else f'[{host}]'}:{bound}/"
        if ctx.loopback:
            announce(f"The Alchemiser dashboard: {where}  (Ctrl+C to stop)")
        else:
            announce(
                f"The Alchemiser dashboard: {where}  — bound beyond loopback; log in with the token in "
                f"{ctx.home / security.TOKEN_FILE}"
            )
        try:
            await asyncio.Event().wait()
        finally:
            warming.cancel()
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt, GracefulExit):
        asyncio.run(main())
