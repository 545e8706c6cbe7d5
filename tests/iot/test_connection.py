"""The bridge connection against a real MQTT broker on 127.0.0.1 (WebSocket transport), and
against the AWS IoT emulation sending WebSocket pings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import gc
import json

import aiomqtt
from paho.mqtt.client import _WebsocketWrapper
import pytest

from custom_components.konnected_aws.iot.connection import (
    BridgeConnection,
    BridgeCredentials,
    BridgeNotConnectedError,
    bridge_client_id,
    iot_url,
    mask_paho_websocket_frames,
)
from custom_components.konnected_aws.iot.messages import (
    ActuatorCommand,
    BoardMessage,
    ZoneState,
)
from devtools.iot_emulator import IotEmulator

from .conftest import PlainBroker

BOARD = "8840f5209948"


def _credentials(url: str) -> BridgeCredentials:
    return BridgeCredentials(
        url=url, authorizer_name="konnected-aws", token="secret-token", signature="c2ln", client_id="bridge-test"
    )


def _board_client(broker: PlainBroker) -> aiomqtt.Client:
    return aiomqtt.Client(
        "127.0.0.1", broker.port, transport="websockets", websocket_path="/mqtt", identifier="board-test"
    )


class Recorder:
    """Collects what the connection reports."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[BoardMessage] = asyncio.Queue()
        self.changes: list[bool] = []

    def on_message(self, message: BoardMessage) -> None:
        self.messages.put_nowait(message)

    def on_change(self, connected: bool) -> None:
        self.changes.append(connected)


def test_iot_url() -> None:
    """A bare endpoint becomes AWS's WebSocket URL; explicit URLs stay."""
    assert iot_url("abc-ats.iot.eu-west-1.amazonaws.com") == "wss://abc-ats.iot.eu-west-1.amazonaws.com/mqtt"
    assert iot_url("ws://127.0.0.1:1234/mqtt") == "ws://127.0.0.1:1234/mqtt"


def test_credentials_repr_hides_secrets() -> None:
    """Token and signature never reach logs through repr()."""
    text = repr(_credentials("ws://127.0.0.1:1/mqtt"))
    assert "secret-token" not in text
    assert "c2ln" not in text


def test_rejects_bad_urls() -> None:
    """Only ws/wss URLs, and wss only with a TLS context."""
    recorder = Recorder()
    with pytest.raises(ValueError, match="WebSocket"):
        BridgeConnection(_credentials("http://x/mqtt"), recorder.on_message, recorder.on_change)
    with pytest.raises(ValueError, match="TLS"):
        BridgeConnection(_credentials("wss://x/mqtt"), recorder.on_message, recorder.on_change)


async def test_reports_commands_and_reconnect(plain_broker: PlainBroker) -> None:
    """Reports arrive typed, commands reach the board topic, and a broker restart is survived."""
    recorder = Recorder()
    connection = BridgeConnection(
        _credentials(plain_broker.url),
        recorder.on_message,
        recorder.on_change,
        backoff_initial=0.05,
        backoff_max=0.2,
    )
    connection.start()
    try:
        assert await connection.wait_connected(10)
        async with _board_client(plain_broker) as board:
            await board.subscribe(f"konnected/{BOARD}/switch", qos=1)
            await board.publish(f"konnected/{BOARD}/sensor", b'{"zone":1,"state":1}', qos=1)
            await board.publish(f"konnected/{BOARD}/sensor", b"garbage", qos=1)
            await board.publish(f"konnected/{BOARD}/sensor", b'{"zone":2,"state":0}', qos=1)
            assert await asyncio.wait_for(recorder.messages.get(), 5) == ZoneState(BOARD, "1", 1)
            # The malformed message in between was dropped, not delivered and not fatal.
            assert await asyncio.wait_for(recorder.messages.get(), 5) == ZoneState(BOARD, "2", 0)

            await connection.send_command(BOARD, ActuatorCommand("out", 1, momentary_ms=500))
            async with asyncio.timeout(5):
                async for message in board.messages:
                    expected = {"pin": 8, "state": 1, "momentary": 500, "times": 1, "pause": 1}
                    assert json.loads(message.payload) == expected
                    break

        await plain_broker.stop()
        async with asyncio.timeout(5):
            while connection.connected:
                await asyncio.sleep(0.02)
        with pytest.raises(BridgeNotConnectedError):
            await connection.send_command(BOARD, ActuatorCommand("out", 0))

        await plain_broker.start()
        assert await connection.wait_connected(10)
        assert recorder.changes == [True, False, True]
        # Subscriptions are made again after the reconnect.
        async with _board_client(plain_broker) as board:
            await board.publish(f"konnected/{BOARD}/sensor", b'{"zone":3,"state":1}', qos=1)
            assert await asyncio.wait_for(recorder.messages.get(), 5) == ZoneState(BOARD, "3", 1)
    finally:
        await connection.stop()
    assert not connection.connected


async def test_consumer_errors_do_not_drop_the_connection(plain_broker: PlainBroker) -> None:
    """A failing consumer is logged; later reports still arrive."""
    seen: list[BoardMessage] = []

    def flaky(message: BoardMessage) -> None:
        seen.append(message)
        if len(seen) == 1:
            raise RuntimeError("consumer bug")

    connection = BridgeConnection(_credentials(plain_broker.url), flaky, lambda _: None)
    connection.start()
    try:
        assert await connection.wait_connected(10)
        async with _board_client(plain_broker) as board:
            for zone in (1, 2):
                await board.publish(f"konnected/{BOARD}/sensor", f'{{"zone":{zone},"state":1}}'.encode(), qos=1)
        async with asyncio.timeout(5):
            while len(seen) < 2:
                await asyncio.sleep(0.02)
        assert connection.connected
    finally:
        await connection.stop()


async def _bridge_on_emulator(
    emulator: IotEmulator, client_id: str = "konnected-bridge-hassbridge1-0001"
) -> tuple[BridgeConnection, Recorder]:
    """The bridge authenticated by the shipped authorizer on an emulated account."""
    bridge_id = "hassbridge1"

    def setup() -> tuple[str, str]:
        cloud = emulator.cloud_account()
        cloud.ensure()  # idempotent: a second bridge on the account finds it all in place
        if cloud.registry.get(bridge_id) is None:
            cloud.registry.register(bridge_id, "user", "bridge")
        return emulator.signed_token(bridge_id)

    token, signature = await asyncio.get_running_loop().run_in_executor(None, setup)
    recorder = Recorder()
    credentials = BridgeCredentials(
        url=emulator.ws_url,
        authorizer_name="konnected-aws",
        token=token,
        signature=signature,
        client_id=client_id,
    )
    connection = BridgeConnection(
        credentials, recorder.on_message, recorder.on_change, backoff_initial=60
    )
    return connection, recorder


@pytest.fixture
async def pinging_emulator(socket_enabled: None) -> AsyncIterator[IotEmulator]:
    """An emulator sending a WebSocket ping every 0.2 s (AWS IoT sends none; other servers do)."""
    emulator = IotEmulator(ws_ping_interval=0.2)
    await emulator.start()
    yield emulator
    await emulator.stop()


async def test_the_bridge_answers_websocket_pings(pinging_emulator: IotEmulator) -> None:
    """paho 2.1.0 answers pings unmasked; with the bridge's fix every pong is masked and the
    connection stays up across many pings."""
    connection, recorder = await _bridge_on_emulator(pinging_emulator)
    connection.start()
    try:
        assert await connection.wait_connected(10)
        client_id = "konnected-bridge-hassbridge1-0001"
        async with asyncio.timeout(10):
            while pinging_emulator.by_client[client_id].pongs < 5:
                await asyncio.sleep(0.05)
        assert connection.connected
        assert recorder.changes == [True]
    finally:
        await connection.stop()


async def test_unmasked_pongs_are_refused(
    pinging_emulator: IotEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the fix (paho's own framing) the server closes the connection at the first ping:
    the emulator is as strict as RFC 6455 requires, so the fix above is what keeps the bridge up."""
    connection, recorder = await _bridge_on_emulator(pinging_emulator)
    unpatched = _WebsocketWrapper._create_frame.__wrapped__  # type: ignore[attr-defined]
    monkeypatch.setattr(_WebsocketWrapper, "_create_frame", unpatched)
    connection.start()
    try:
        assert await connection.wait_connected(10)
        async with asyncio.timeout(10):
            while connection.connected:
                await asyncio.sleep(0.05)
        assert recorder.changes == [True, False]
        # 1002: protocol error
        assert pinging_emulator.close_codes["konnected-bridge-hassbridge1-0001"] == 1002
    finally:
        await connection.stop()


def test_the_paho_patch_leaves_a_changed_paho_alone(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """If paho's private framing method changes shape, nothing is patched and a warning says so."""

    def create_frame(self: object, opcode: int, data: bytearray) -> bytearray:
        return data

    monkeypatch.setattr(_WebsocketWrapper, "_create_frame", create_frame)
    mask_paho_websocket_frames()
    assert _WebsocketWrapper._create_frame is create_frame
    assert "framing changed" in caplog.text


async def test_two_installations_with_one_bridge_principal_both_stay_connected(
    iot_emulator: IotEmulator,
) -> None:
    """A backup restored on a second machine holds the same bridge principal: each run connects
    with its own client id, so AWS IoT's takeover never knocks either off."""
    first, first_recorder = await _bridge_on_emulator(iot_emulator, bridge_client_id("hassbridge1"))
    second, second_recorder = await _bridge_on_emulator(iot_emulator, bridge_client_id("hassbridge1"))
    assert first.client_id != second.client_id
    first.start()
    second.start()
    try:
        assert await first.wait_connected(10)
        assert await second.wait_connected(10)
        await asyncio.sleep(2)
        assert first.connected and second.connected
        assert first_recorder.changes == [True]
        assert second_recorder.changes == [True]
    finally:
        await first.stop()
        await second.stop()


async def test_a_refused_subscribe_leaves_no_unretrieved_error(
    iot_emulator: IotEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """AWS drops a client whose subscribe its policy refuses (here a board's principal used as a
    bridge); each attempt ends cleanly, with the reason kept and nothing logged by asyncio."""

    def board_principal() -> tuple[str, str]:
        cloud = iot_emulator.cloud_account()
        cloud.ensure()
        cloud.registry.register("8840f5209948", "user")
        return iot_emulator.signed_token("8840f5209948")

    token, signature = await asyncio.get_running_loop().run_in_executor(None, board_principal)
    recorder = Recorder()
    connection = BridgeConnection(
        BridgeCredentials(
            url=iot_emulator.ws_url,
            authorizer_name="konnected-aws",
            token=token,
            signature=signature,
            client_id="any-client-a-board-may-use",
        ),
        recorder.on_message,
        recorder.on_change,
        backoff_initial=0.2,
        backoff_max=0.2,
    )
    connection.start()
    try:
        async with asyncio.timeout(40):
            while len(iot_emulator.denials) < 2:
                await asyncio.sleep(0.05)
    finally:
        await connection.stop()
    gc.collect()
    await asyncio.sleep(0)
    assert connection.last_error
    assert not connection.connected
    assert "exception was never retrieved" not in caplog.text
