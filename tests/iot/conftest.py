"""A plain amqtt broker with a WebSocket listener on 127.0.0.1 for the bridge's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

from amqtt.broker import Broker
import pytest

from devtools.iot_emulator import free_port


class PlainBroker:
    """Start, stop and restart an anonymous broker on a fixed port."""

    def __init__(self) -> None:
        self.port = free_port()
        self._broker: Broker | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/mqtt"

    async def start(self) -> None:
        self._broker = Broker(
            {
                "listeners": {"default": {"type": "ws", "bind": f"127.0.0.1:{self.port}"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
            }
        )
        await self._broker.start()

    async def stop(self) -> None:
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None


@pytest.fixture
async def plain_broker(socket_enabled: None) -> AsyncIterator[PlainBroker]:
    """A running broker, shut down after the test."""
    broker = PlainBroker()
    await broker.start()
    yield broker
    await broker.stop()
