"""The Sweeps page's routes: `/sweeps`, `/sweeps/{run}` and `/api/sweeps[...]`, kept out of server.py.

The server passes in its own helpers (page rendering, strict JSON, query checks, off-loop execution) so
these handlers behave exactly like the others: same guards, same error pages, same JSON convention.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from alchemiser.web import sweeps
from alchemiser.web.context import WebContext


def routes(
    ctx_key: web.AppKey[WebContext],
    page: Callable[..., web.Response],
    as_json: Callable[..., web.Response],
    query: Callable[[web.Request, set[str]], dict[str, str]],
    off_loop: Callable[..., Awaitable[Any]],
) -> list[web.RouteDef]:
    async def api_list(request: web.Request) -> web.Response:
        query(request, set())
        return as_json({"sweeps": await off_loop(sweeps.list_runs, request.app[ctx_key].home)})

    async def api_run(request: web.Request) -> web.Response:
        query(request, set())
        return as_json(await off_loop(sweeps.run_detail, request.app[ctx_key].home, request.match_info["run"]))

    async def file(request: web.Request) -> web.FileResponse:
        query(request, set())
        home, run, name = request.app[ctx_key].home, request.match_info["run"], request.match_info["name"]
        path = await off_loop(sweeps.report_file, home, run, name)
        if path is None:
            raise web.HTTPNotFound(reason=f"name: no report file {name!r} in sweep run {run!r}")
        disposition = "inline" if name.endswith((".html", ".png")) else f'attachment; filename="{name}"'
        return web.FileResponse(path, headers={"Content-Disposition": disposition})

    async def page_list(request: web.Request) -> web.Response:
        query(request, set())
        home = request.app[ctx_key].home
        runs = await off_loop(sweeps.list_runs, home)
        return page(request, "sweeps.html", "sweeps", runs=runs, folder=str(sweeps.sweeps_dir(home)))

    async def page_run(request: web.Request) -> web.Response:
        query(request, set())
        data = await off_loop(sweeps.run_detail, request.app[ctx_key].home, request.match_info["run"])
        return page(request, "sweep.html", "sweeps", s=data)

    return [
        web.get("/sweeps", page_list),
        web.get("/sweeps/{run}", page_run),
        web.get("/api/sweeps", api_list),
        web.get("/api/sweeps/{run}", api_run),
        web.get("/api/sweeps/{run}/files/{name}", file),
    ]
