"""REST mode (rest_endpoint.lua): what a board does once it is no longer in AWS mode."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from .conftest import MakeBoard, wait_for


async def test_factory_board_with_inputs_but_no_endpoint_restarts_forever(make_sim: MakeBoard) -> None:
    """The first queued input state is PUT to `settings.endpoint .. "/device/" ..`: nil
    concatenation in a tmr callback, restart 2 s later, at every boot."""
    board = await make_sim("3.1.5", files={"settings": {"endpoint_type": "rest"}, "sensors": [{"zone": "1"}]}, error_restart_delay=0.2)
    await wait_for(lambda: board.boots >= 3, 3)
    assert all("concatenate a nil" in error for error in board.lua_errors)


async def test_empty_rest_board_is_quiet(make_sim: MakeBoard) -> None:
    board = await make_sim("3.1.5", files={"settings": {"endpoint_type": "rest"}, "sensors": [], "actuators": []})
    await asyncio.sleep(0.5)
    assert board.lua_errors == [] and board.boots == 1


async def test_rest_endpoint_round_trip(make_sim: MakeBoard, socket_enabled: None) -> None:
    """Outputs are fetched (`GET .../device/<mac>?zone=out`) and set; input changes are PUT,
    with the bearer token; a failed PUT is retried with `retry` in the body."""
    seen: list[tuple[str, str, Any]] = []
    fail_first = [True]

    async def get(request: web.Request) -> web.Response:
        seen.append(("GET", request.path_qs, request.headers.get("Authorization")))
        return web.json_response({"zone": "out", "state": 1})

    async def put(request: web.Request) -> web.Response:
        seen.append(("PUT", request.path, await request.json()))
        if fail_first[0]:
            fail_first[0] = False
            return web.Response(status=500)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/api/device/{dni}", get)
    app.router.add_put("/api/device/{dni}", put)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # noqa: SLF001
    try:
        settings = {"endpoint_type": "rest", "endpoint": f"http://127.0.0.1:{port}/api", "token": "abc"}
        board = await make_sim("3.1.5", files={"settings": settings, "sensors": [{"zone": "1"}], "actuators": [{"zone": "out", "trigger": 1}]})
        await wait_for(lambda: board.level("out") == 1)
        assert seen[0] == ("GET", f"/api/device/{board.device_id}?zone=out", "Bearer abc")
        await wait_for(lambda: sum(1 for kind, _, _ in seen if kind == "PUT") >= 2)
        puts = [body for kind, _, body in seen if kind == "PUT"]
        assert puts[0] == {"zone": "1", "state": 0}
        assert puts[1] == {"zone": "1", "state": 0, "retry": 1}
    finally:
        await runner.cleanup()
