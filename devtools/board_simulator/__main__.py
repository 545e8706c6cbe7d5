"""`python -m devtools.board_simulator`: N simulated boards in one process (for scripts/develop)."""

from __future__ import annotations

import argparse
import asyncio
import logging

from . import SimulatedBoard


async def _main(args: argparse.Namespace) -> None:
    boards = [
        SimulatedBoard(
            f"5c:cf:7f:00:00:{index + 1:02x}",
            http_port=args.http_base_port + index,
            ssdp_port=args.ssdp_base_port + index,
        )
        for index in range(args.boards)
    ]
    for board in boards:
        await board.start()
        print(
            f"board {board.device_id}: http://127.0.0.1:{board.http_port}  ssdp 127.0.0.1:{board.ssdp_port}"
            f"  (zone change: curl -X POST -d '{{\"zone\":\"1\",\"state\":1}}' "
            f"http://127.0.0.1:{board.http_port}/_sim/zone)",
            flush=True,
        )
    try:
        await asyncio.Event().wait()
    finally:
        for board in boards:
            await board.close()


def main() -> None:
    """Run until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boards", type=int, default=2)
    parser.add_argument("--http-base-port", type=int, default=9101)
    parser.add_argument("--ssdp-base-port", type=int, default=9201)
    logging.basicConfig(level=logging.INFO)
    try:
        asyncio.run(_main(parser.parse_args()))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
