"""Client-id takeover: "When a client connects to the message broker using a client ID that another
client is using, the new client connection is accepted and the previously connected client is
disconnected" (AWS IoT developer guide, MQTT, differences from the specification)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
from typing import Any

import aiomqtt

from devtools.iot_emulator import IotEmulator

from .conftest import Deploy, mqtt_client, wait_for


async def _messages_until_disconnected(client: aiomqtt.Client, seen: list[str]) -> None:
    try:
        async for message in client.messages:
            seen.append(str(message.topic))  # noqa: PERF401 - kept as they arrive: the disconnect ends the loop with an error
    except aiomqtt.MqttError:
        seen.append("<disconnected>")


async def test_second_connect_with_a_client_id_takes_the_session_over(
    iot_emulator: IotEmulator, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """The older connection is dropped (DUPLICATE_CLIENTID); the newer one keeps its session and
    its policy after the older one is gone."""
    authorizer = await deploy(iot_emulator)("tester")
    headers = authorizer.headers()
    presence: list[dict[str, Any]] = []
    async with mqtt_client(
        iot_emulator, identifier="observer", websocket_headers=headers
    ) as observer:
        await observer.subscribe("$aws/events/presence/+/dup")

        async def watch() -> None:
            async for message in observer.messages:
                presence.append(json.loads(bytes(message.payload)))  # type: ignore[arg-type]  # noqa: PERF401 - read by the test while the loop runs

        watcher = asyncio.get_running_loop().create_task(watch())
        first = mqtt_client(iot_emulator, identifier="dup", websocket_headers=headers)
        await first.__aenter__()
        await first.subscribe("t/dup")
        first_seen: list[str] = []
        first_reader = asyncio.get_running_loop().create_task(
            _messages_until_disconnected(first, first_seen)
        )
        first_session = iot_emulator.by_client["dup"].session_id

        async with mqtt_client(iot_emulator, identifier="dup", websocket_headers=headers) as second:
            await wait_for(lambda: first_seen == ["<disconnected>"])
            await first_reader
            assert iot_emulator.by_client["dup"].session_id != first_session
            # The older connection is completely gone; the newer one still holds its policy.
            await second.subscribe("t/dup")
            await wait_for(lambda: iot_emulator.is_subscribed("dup", "t/dup"))
            await observer.publish("t/dup", b"after takeover", qos=1)
            async with asyncio.timeout(5):
                async for message in second.messages:
                    assert bytes(message.payload) == b"after takeover"  # type: ignore[arg-type]
                    break
            await second.publish("t/still-allowed", b"x", qos=1)
            assert "dup" in iot_emulator.by_client

        await wait_for(lambda: len(presence) >= 4)
        watcher.cancel()
    with_first = [event for event in presence if event["sessionIdentifier"] == first_session]
    assert [(event["eventType"], event.get("disconnectReason")) for event in with_first] == [
        ("connected", None),
        ("disconnected", "DUPLICATE_CLIENTID"),
    ]
    assert with_first[1]["clientInitiatedDisconnect"] is False
    others = [event for event in presence if event["sessionIdentifier"] != first_session]
    assert [event["eventType"] for event in others][:1] == ["connected"]
    # The disconnected event of the older session comes before the newer one's connected event.
    assert presence.index(with_first[1]) < presence.index(others[0])
    assert others[0]["versionNumber"] > with_first[0]["versionNumber"]


async def test_a_refused_connect_does_not_take_the_session_over(
    iot_emulator: IotEmulator, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """Only an accepted CONNECT disconnects the client id's holder."""
    authorizer = await deploy(iot_emulator)("tester")
    async with mqtt_client(
        iot_emulator, identifier="dup", websocket_headers=authorizer.headers()
    ) as holder:
        await holder.subscribe("t/dup")
        forged = dict(authorizer.headers())
        forged["X-Amz-CustomAuthorizer-Signature"] = authorizer.sign("another-token")
        intruder = mqtt_client(iot_emulator, identifier="dup", websocket_headers=forged)
        try:
            async with intruder:
                raise AssertionError("a forged signature was accepted")
        except aiomqtt.MqttError:
            pass
        await holder.publish("t/dup", b"still here", qos=1)
        async with asyncio.timeout(5):
            async for message in holder.messages:
                assert bytes(message.payload) == b"still here"  # type: ignore[arg-type]
                break
    assert ("upgrade", "the token signature does not verify") in iot_emulator.refusals
