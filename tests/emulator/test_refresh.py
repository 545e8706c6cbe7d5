"""refreshAfterInSeconds: "When this interval passes, AWS IoT Core invokes the Lambda function to
allow for policy refreshes"; a failing refresh ends the connection, as failures during custom
authentication do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import json

import aiomqtt

from devtools.iot_emulator import IotEmulator

from .conftest import Deploy, EmulatorFactory, mqtt_client, response, wait_for


async def test_the_authorizer_runs_again_at_each_refresh(
    make_emulator: EmulatorFactory, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """Refresh every 300 s (scaled 1/500: 0.6 s) invokes the function again; once it denies, the
    connection is dropped."""
    emulator = await make_emulator(time_scale=0.002)
    authorizer = await deploy(emulator)("refreshing", answer=response(refreshAfterInSeconds=300))
    reached: list[str] = []
    # The drop itself is asserted below from the emulator's side; aiomqtt 2.5 no longer re-raises
    # it when the context is left, older versions do.
    with contextlib.suppress(aiomqtt.MqttError):
        # keep-alive 1,200 s: 1.5 x 1,200 x 1/500 = 3.6 s without pings is allowed.
        async with mqtt_client(
            emulator, identifier="device1", websocket_headers=authorizer.headers(), keepalive=1200
        ):
            await wait_for(lambda: len(authorizer.events()) >= 3, timeout=5)
            assert "device1" in emulator.by_client
            reached.append("refreshed")

            def deny() -> None:
                emulator.client("lambda").update_function_configuration(
                    FunctionName="refreshing-function",
                    Environment={"Variables": {"RESPONSE": json.dumps({"isAuthenticated": False})}},
                )

            await asyncio.get_running_loop().run_in_executor(None, deny)
            await wait_for(lambda: "device1" not in emulator.by_client, timeout=5)
            reached.append("dropped")
    assert reached == ["refreshed", "dropped"]
    assert ("refresh", "not authenticated") in emulator.refusals


async def test_the_session_ends_after_disconnect_after(
    make_emulator: EmulatorFactory, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """disconnectAfterInSeconds 300 (scaled 1/500: 0.6 s) closes the connection with
    CUSTOMAUTH_TTL_EXPIRATION even while the client is active."""
    emulator = await make_emulator(time_scale=0.002)
    authorizer = await deploy(emulator)("short", answer=response(disconnectAfterInSeconds=300))
    # The drop itself is asserted below from the emulator's side; aiomqtt 2.5 no longer re-raises
    # it when the context is left, older versions do.
    with contextlib.suppress(aiomqtt.MqttError):
        async with mqtt_client(
            emulator, identifier="device1", websocket_headers=authorizer.headers(), keepalive=1200
        ) as client:
            connection = emulator.by_client["device1"]
            for _ in range(50):
                await client.publish("t/device1", b"busy", qos=1)
                await asyncio.sleep(0.05)
    assert connection.disconnect_reason == "CUSTOMAUTH_TTL_EXPIRATION"
    assert "device1" not in emulator.by_client
