"""`python -m devtools.iot_emulator`: the local AWS IoT for scripts/develop."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from . import IotEmulator


async def _main(args: argparse.Namespace) -> None:
    emulator = IotEmulator(
        port=args.port, tls_port=args.tls_port, moto_port=args.moto_port, region=args.region
    )
    await emulator.start()
    print(f"AWS API (moto):    {emulator.aws_endpoint_url}", flush=True)
    print(f"AWS IoT (MQTT/WS): {emulator.ws_url}", flush=True)
    print(f"AWS IoT (MQTT/WSS): {emulator.wss_url} (CA: {emulator.ca_path})", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main() -> None:
    """Run until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8884, help="MQTT over WebSocket port")
    parser.add_argument(
        "--tls-port", type=int, default=8885, help="MQTT over WebSocket with TLS port"
    )
    parser.add_argument("--moto-port", type=int, default=5055, help="moto server port")
    parser.add_argument("--region", default="us-east-1")
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
