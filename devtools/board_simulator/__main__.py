"""`python -m devtools.board_simulator`: N simulated boards in one process (for scripts/develop).

The boards' own HTTP ports serve only what the firmware serves; the simulated hardware is
scripted on a separate control port:
`curl -X POST -d '{"board": "5ccf7f000001", "zone": "1", "state": 1}' http://127.0.0.1:9100/zone`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from aiohttp import web

from . import RELEASES, SimulatedBoard


def _control_app(boards: dict[str, SimulatedBoard]) -> web.Application:
    async def zone(request: web.Request) -> web.Response:
        body = await request.json()
        board = boards.get(str(body.get("board", "")))
        if board is None:
            return web.json_response({"error": f"board must be one of {sorted(boards)}"}, status=404)
        board.set_zone(str(body["zone"]), int(body["state"]))
        return web.json_response({"board": board.device_id, "zone": body["zone"], "state": board.level(str(body["zone"]))})

    app = web.Application()
    app.router.add_post("/zone", zone)
    return app


async def _main(args: argparse.Namespace) -> None:
    boards = [
        SimulatedBoard(
            f"5c:cf:7f:00:00:{index + 1:02x}",
            http_port=args.http_base_port + index,
            ssdp_port=args.ssdp_base_port + index,
            sw_version=args.sw_version,
        )
        for index in range(args.boards)
    ]
    runner = web.AppRunner(_control_app({board.device_id: board for board in boards}))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.control_port).start()
    for board in boards:
        await board.start()
        print(
            f"board {board.device_id} (firmware {board.sw_version}): http://127.0.0.1:{board.http_port}"
            f"  ssdp 127.0.0.1:{board.ssdp_port}  (zone change: curl -X POST -d "
            f"'{{\"board\":\"{board.device_id}\",\"zone\":\"1\",\"state\":1}}' http://127.0.0.1:{args.control_port}/zone)",
            flush=True,
        )
    try:
        await asyncio.Event().wait()
    finally:
        for board in boards:
            await board.close()
        await runner.cleanup()


def main() -> None:
    """Run until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boards", type=int, default=2)
    parser.add_argument("--http-base-port", type=int, default=9101)
    parser.add_argument("--ssdp-base-port", type=int, default=9201)
    parser.add_argument("--control-port", type=int, default=9100)
    parser.add_argument("--sw-version", default="3.1.5", choices=sorted(RELEASES))
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
