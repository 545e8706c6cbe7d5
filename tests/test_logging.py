"""No secret reaches the log at DEBUG from the loggers the manifest names (what a user switches on
when asked for debug logs): not the AWS secret, tokens, signatures or the private key."""

from __future__ import annotations

import json
import logging

import pytest

from custom_components.konnected_aws.cloud.signing import sign_token
from devtools.iot_emulator import IotEmulator
from homeassistant.config_entries import SOURCE_RECONFIGURE
from homeassistant.core import HomeAssistant

from .conftest import BoardFactory
from .test_end_to_end import adopted_board, configure_zones, entity_id, wait_for

MANIFEST = json.loads(
    (__import__("pathlib").Path(__file__).parents[1] / "custom_components/konnected_aws/manifest.json").read_text()
)


def manifest_logger(record: logging.LogRecord) -> bool:
    return any(record.name == name or record.name.startswith(f"{name}.") for name in MANIFEST["loggers"])


async def test_debug_logs_carry_no_secret(
    hass: HomeAssistant, iot_emulator: IotEmulator, make_board: BoardFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Account setup, adoption, a command, a zone change and a reconnect, all at DEBUG."""
    for name in MANIFEST["loggers"]:
        caplog.set_level(logging.DEBUG, logger=name)
    board, entry = await adopted_board(hass, iot_emulator, make_board)
    output = entity_id(hass, "switch", f"{board.device_id}_out")
    await hass.services.async_call("switch", "turn_on", {"entity_id": output}, blocking=True)
    await wait_for(lambda: board.level("out") == 1)
    subentry_id = next(iter(entry.subentries))
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "board"), context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id}
    )
    await configure_zones(hass, result["flow_id"], {"1": {"type": "binary_sensor"}, "out": {"type": "switch"}})
    await iot_emulator.stop_broker()
    await iot_emulator.start_broker()
    await wait_for(lambda: entry.runtime_data.hub.connected, timeout=20)

    private_key = entry.runtime_data.private_key_pem
    secrets = {
        "AWS secret": entry.data["secret_access_key"],
        "bridge token": entry.data["bridge_token"],
        "bridge signature": sign_token(private_key, entry.data["bridge_token"]),
        "board token": board.settings["aws"]["token"],
        "board signature": board.settings["aws"]["token_signature"],
        "private key": private_key.decode().splitlines()[1],
    }
    records = [record for record in caplog.records if manifest_logger(record)]
    assert any(record.levelno == logging.DEBUG for record in records)  # DEBUG was really on
    text = "\n".join(record.getMessage() for record in records)
    leaked = [name for name, secret in secrets.items() if secret in text]
    assert leaked == []
