"""Ordinary connection churn logs no errors: clients that connect and leave (cleanly or not, before
or after the CONNECT), take a session over, are refused or dropped, and a broker restart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import logging

import aiomqtt
import pytest
import websockets

from devtools.iot_emulator import IotEmulator

from .conftest import (
    FIRMWARE_CONNECT,
    Deploy,
    connect_packet,
    mqtt_client,
    raw_connect,
    wait_for,
)


async def _ignore_mqtt_errors(client: aiomqtt.Client) -> None:
    try:
        async with client:
            await asyncio.sleep(0.1)
    except aiomqtt.MqttError:
        pass


async def test_connection_churn_logs_no_errors(
    iot_emulator: IotEmulator,
    deploy: Callable[[IotEmulator], Deploy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No ERROR records, no tracebacks at WARNING or above (emulator, amqtt, websockets)."""
    caplog.set_level(logging.DEBUG)
    authorizer = await deploy(iot_emulator)("tester")
    headers = authorizer.headers()

    for _ in range(2):  # connect, subscribe, disconnect
        async with mqtt_client(
            iot_emulator, identifier="device1", websocket_headers=headers
        ) as client:
            await client.subscribe("t/device1")
    mqtt = [websockets.Subprotocol("mqtt")]
    async with websockets.connect(
        iot_emulator.ws_url, additional_headers=headers, subprotocols=mqtt
    ):
        pass  # gone before the CONNECT
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(
            iot_emulator.ws_url, additional_headers=headers
        )  # no subprotocol: 400
    _reader, writer = await asyncio.open_connection("127.0.0.1", iot_emulator.port)
    writer.write(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n")  # gone during the opening handshake
    await writer.drain()
    writer.close()
    websocket, _ = await raw_connect(iot_emulator.ws_url, headers, connect_packet("abrupt"))
    websocket.transport.abort()  # gone without a DISCONNECT
    websocket, _ = await raw_connect(iot_emulator.ws_url, headers, connect_packet("closes"))
    await websocket.close()  # a WebSocket close without a DISCONNECT
    async with websockets.connect(
        iot_emulator.ws_url, additional_headers=headers, subprotocols=mqtt
    ) as garbage:
        await garbage.send(b"\x00\x01\x02")  # not MQTT
        await wait_for(lambda: garbage.state is websockets.State.CLOSED)

    holder = mqtt_client(iot_emulator, identifier="dup", websocket_headers=headers)
    await holder.__aenter__()
    async with mqtt_client(iot_emulator, identifier="dup", websocket_headers=headers):
        await asyncio.sleep(0.2)  # the holder is taken over
    with contextlib.suppress(aiomqtt.MqttError):
        await holder.__aexit__(None, None, None)
    kicked = mqtt_client(iot_emulator, identifier="kicked", websocket_headers=headers)
    await kicked.__aenter__()
    await iot_emulator.kick("kicked")
    with contextlib.suppress(aiomqtt.MqttError):
        await kicked.__aexit__(None, None, None)

    await _ignore_mqtt_errors(
        mqtt_client(iot_emulator, identifier="device1", websocket_headers={})
    )  # refused CONNECT
    forged = {**headers, "Token": "another"}
    await _ignore_mqtt_errors(
        mqtt_client(iot_emulator, identifier="device1", websocket_headers=forged)
    )  # 401
    websocket, _ = await raw_connect(iot_emulator.ws_url, headers, FIRMWARE_CONNECT)
    await iot_emulator.restart_broker()  # an outage with a client connected
    await asyncio.sleep(0.3)
    await websocket.close()
    async with mqtt_client(iot_emulator, identifier="device1", websocket_headers=headers):
        pass

    loud = [
        f"{record.levelname} {record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.ERROR
        or (record.levelno >= logging.WARNING and record.exc_info)
    ]
    assert loud == []
