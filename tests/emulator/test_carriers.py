"""Custom-auth credentials in each carrier AWS IoT accepts, on ws:// and on wss:// (TLS with a CA
made at start-up): the upgrade request's headers, its query string, and the MQTT CONNECT
username (`anything?x-amz-customauthorizer-name=...&x-amz-customauthorizer-signature=...&Token=...`,
what AWS's device SDK builder sends). The Lambda event is checked per carrier."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
import ssl
from typing import Any
from urllib.parse import quote

import aiomqtt
import pytest
import websockets

from devtools.iot_emulator import IotEmulator

from .conftest import (
    BOARD,
    FIRMWARE_CONNECT,
    Deploy,
    DeployedAuthorizer,
    konnected_account,
    mqtt_client,
    raw_connect,
    receive,
    refused_handshakes_expected,
    subscribe_packet,
)

CARRIERS = ("headers", "query", "username")


def _client(
    emulator: IotEmulator, authorizer: DeployedAuthorizer, carrier: str, *, tls: bool
) -> aiomqtt.Client:
    if carrier == "headers":
        return mqtt_client(
            emulator, tls=tls, identifier="device1", websocket_headers=authorizer.headers()
        )
    if carrier == "query":
        return mqtt_client(
            emulator, tls=tls, identifier="device1", websocket_path=f"/mqtt?{authorizer.query()}"
        )
    return mqtt_client(
        emulator, tls=tls, identifier="device1", username=authorizer.username(), password="secret"
    )


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
async def test_each_carrier_authenticates_and_the_event_is_as_documented(
    iot_emulator: IotEmulator, deploy: Callable[[IotEmulator], Deploy], tls: bool
) -> None:
    """Headers, query string and CONNECT username each reach the authorizer; the event has the
    token, the verified signature, the protocols and protocolData of that carrier."""
    authorizer = await deploy(iot_emulator)("tester")
    for carrier in CARRIERS:
        async with _client(iot_emulator, authorizer, carrier, tls=tls) as client:
            await client.subscribe("t/device1")
            assert "device1" in iot_emulator.by_client, carrier
    events = authorizer.events()
    assert len(events) == len(CARRIERS)
    for carrier, event in zip(CARRIERS, events, strict=True):
        assert event["token"] == "test-token", carrier
        assert event["signatureVerified"] is True, carrier
        assert event["protocols"] == (["tls"] if tls else []) + ["http", "mqtt"], carrier
        data: dict[str, Any] = event["protocolData"]
        assert ("tls" in data) is tls, carrier
        if tls:
            assert data["tls"] == {"serverName": "localhost"}
        assert "headers" in data["http"], carrier
        assert len(event["connectionMetadata"]["id"]) == 36, carrier
        if carrier == "query":
            assert data["http"]["queryString"] == f"?{authorizer.query()}"
        else:
            assert "queryString" not in data["http"], carrier
        if carrier == "username":
            assert data["mqtt"] == {
                "username": authorizer.username(),
                "password": base64.b64encode(b"secret").decode(),
                "clientId": "device1",
            }
        else:
            # The upgrade is authorized before any MQTT is read.
            assert "mqtt" not in data, carrier


async def test_the_shipped_authorizer_accepts_a_board_through_the_username(
    iot_emulator: IotEmulator,
) -> None:
    """The integration's Lambda works with the SDK builder's carrier too (wss, empty client id)."""
    account = await konnected_account(iot_emulator)
    username = (
        "board?x-amz-customauthorizer-name=konnected-aws"
        f"&x-amz-customauthorizer-signature={quote(account.board_signature, safe='')}"
        f"&Token={account.board_token}"
    )
    async with mqtt_client(iot_emulator, tls=True, identifier="", username=username) as client:
        await client.subscribe(f"konnected/{BOARD}/switch")
    assert iot_emulator.refusals == []


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_a_bad_signature_is_refused_before_the_lambda_runs(
    iot_emulator: IotEmulator, deploy: Callable[[IotEmulator], Deploy], carrier: str
) -> None:
    """A signature of another token: HTTP 401 on the upgrade carriers, CONNACK 5 on the username."""
    authorizer = await deploy(iot_emulator)("tester")
    genuine_sign = authorizer.sign
    authorizer.sign = lambda token: genuine_sign(f"{token}-other")  # type: ignore[method-assign]
    with pytest.raises(aiomqtt.MqttError) as caught:
        async with _client(iot_emulator, authorizer, carrier, tls=False):
            pass
    if carrier == "username":
        assert isinstance(caught.value, aiomqtt.MqttCodeError)
        assert str(caught.value.rc) == "Not authorized"  # CONNACK return code 5
    assert authorizer.events() == []
    stage = "connect" if carrier == "username" else "upgrade"
    assert iot_emulator.refusals == [(stage, "the token signature does not verify")]


async def test_the_firmware_connect_over_wss(iot_emulator: IotEmulator) -> None:
    """The board's exact CONNECT bytes over TLS: accepted, and AWS assigns the empty client id."""
    account = await konnected_account(iot_emulator)
    headers = IotEmulator.authorizer_headers(account.board_token, account.board_signature)
    websocket, connack = await raw_connect(
        iot_emulator.wss_url, headers, FIRMWARE_CONNECT, ssl=iot_emulator.client_ssl_context()
    )
    async with websocket:
        assert connack == bytes([0x20, 0x02, 0x00, 0x00])
        await websocket.send(subscribe_packet(f"konnected/{BOARD}/switch"))
        assert (await receive(websocket))[0] >> 4 == 9  # SUBACK
        (client_id,) = iot_emulator.by_client
        assert client_id
        assert iot_emulator.by_client[client_id].principal_id == BOARD


async def test_tls_requires_sni_for_the_endpoint(iot_emulator: IotEmulator) -> None:
    """AWS refuses TLS connections without Server Name Indication (or for another host)."""
    context = iot_emulator.client_ssl_context()
    context.check_hostname = False
    for server_hostname in ("", "other.example"):
        # The server aborts the handshake: an SSL error or a reset, depending on timing.
        with refused_handshakes_expected(), pytest.raises((ssl.SSLError, ConnectionResetError)):  # noqa: PT012 - the refusal shows in connecting or in closing, depending on timing
            _reader, writer = await asyncio.open_connection(
                "127.0.0.1", iot_emulator.tls_port, ssl=context, server_hostname=server_hostname
            )
            writer.close()
    # With the endpoint's name it works (and the certificate chains to the emulator's CA).
    _reader, writer = await asyncio.open_connection(
        "127.0.0.1",
        iot_emulator.tls_port,
        ssl=iot_emulator.client_ssl_context(),
        server_hostname="localhost",
    )
    writer.close()
    await writer.wait_closed()
    assert iot_emulator.ca_path.read_bytes() == iot_emulator.ca_pem
    assert iot_emulator.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")


async def test_the_ca_is_required_to_trust_the_listener(iot_emulator: IotEmulator) -> None:
    """The listener's certificate is not trusted without the emulator's CA."""
    with refused_handshakes_expected():
        with pytest.raises(ssl.SSLCertVerificationError):
            await websockets.connect(iot_emulator.wss_url, ssl=ssl.create_default_context())
        await asyncio.sleep(0.3)  # the server notices the aborted handshake meanwhile
