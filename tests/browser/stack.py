"""The pieces the browser test runs as separate processes, all on 127.0.0.1.

Home Assistant (with konnected_aws and the konnected_dev SSDP helper linked into a fresh config
folder), the local AWS IoT emulator and two simulated boards, started the way `scripts/develop`
starts them. Logs go to the artifacts folder; every process is stopped at the end, killed if it
does not stop in time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import socket
import sys

import aiohttp

from devtools.board_simulator import ZONE_TO_PIN
from homeassistant.components.http import config as http_config

PROJECT_DIR = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
BOARDS = 2
STOP_TIMEOUT = 20.0
START_TIMEOUT = 120.0
# The order to stop in: Home Assistant first, it talks to the others while stopping.
STOP_ORDER = ("hass", "boards", "emulator")

type Probe = Callable[[], Awaitable[bool]]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _port_is_free(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port_run(length: int, kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """The first of `length` consecutive free ports (the simulator numbers its boards' ports)."""
    for _ in range(50):
        first = free_port()
        if first + length <= 65535 and all(_port_is_free(first + i, kind) for i in range(length)):
            return first
    raise RuntimeError(f"no {length} consecutive free ports on {LOOPBACK}")


@dataclass(frozen=True)
class SimulatedBoardProcess:
    """One board of `python -m devtools.board_simulator`, seen from outside."""

    mac: str
    http_port: int
    ssdp_port: int
    control_port: int

    @property
    def url(self) -> str:
        """Its HTTP API."""
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def mac_tail(self) -> str:
        """The end of the MAC that names the board in HA (board_title, entity ids)."""
        return self.mac.replace(":", "")[-6:]


class BoardControl:
    """The simulated hardware behind a board: the simulator's control port (POST /zone) to move
    an input, the firmware's own `GET /device?pin=N&zone=Z` to read an output (server_device.lua)."""

    def __init__(self, session: aiohttp.ClientSession, board: SimulatedBoardProcess) -> None:
        """Talk to `board` over `session`."""
        self._session = session
        self._board = board

    async def set_zone(self, zone: str, level: int) -> None:
        """Open (1) or close (0) the circuit on an input zone."""
        url = f"http://{LOOPBACK}:{self._board.control_port}/zone"
        body = {"board": self._board.mac.replace(":", ""), "zone": zone, "state": level}
        async with self._session.post(url, json=body) as answer:
            answer.raise_for_status()

    async def output_level(self, zone: str) -> int:
        """The level on an output zone's pin, as gpio.read sees it."""
        query = {"pin": str(ZONE_TO_PIN[zone]), "zone": zone}
        async with self._session.get(f"{self._board.url}/device", params=query) as answer:
            answer.raise_for_status()
            body = await answer.json(content_type=None)
        return int(body[0]["state"])


@dataclass
class Stack:
    """Addresses of the running pieces."""

    ha_url: str
    moto_url: str
    iot_url: str
    config_dir: Path
    log_dir: Path
    discoverable_board: SimulatedBoardProcess
    hidden_board: SimulatedBoardProcess  # not in the SSDP targets: added by address
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    @property
    def ha_log(self) -> Path:
        """Home Assistant's own log file."""
        return self.config_dir / "home-assistant.log"


def _write_config(config_dir: Path, http_port: int) -> None:
    """A minimal configuration: the frontend and the config panels, no YAML `http:` block.

    The HTTP server settings go into HA's own store (as the UI would save them), already
    marked migrated: an `http:` YAML block makes HA 2026.10 start a five-minute trial of the
    new settings and raise a deprecated-YAML repair (homeassistant/components/http/config.py,
    async_load_config).
    """
    components = config_dir / "custom_components"
    components.mkdir(parents=True)
    (components / "konnected_aws").symlink_to(PROJECT_DIR / "custom_components" / "konnected_aws")
    (components / "konnected_dev").symlink_to(PROJECT_DIR / "devtools" / "ha_dev" / "konnected_dev")
    (config_dir / "configuration.yaml").write_text(
        "frontend:\nconfig:\nkonnected_dev:\n"
        "logger:\n  default: info\n  logs:\n    custom_components.konnected_aws: debug\n"
    )
    server = {"server_host": [LOOPBACK], "server_port": http_port}
    stable = {
        **http_config.HTTP_STORAGE_SCHEMA(server),
        "created_at": "2026-01-01T00:00:00+00:00",
        "error": None,
        "error_message": None,
    }
    store = {
        "version": http_config.STORAGE_VERSION,
        "minor_version": http_config.STORAGE_MINOR_VERSION,
        "key": http_config.STORAGE_KEY,
        "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
    }
    storage = config_dir / ".storage"
    storage.mkdir()
    (storage / http_config.STORAGE_KEY).write_text(json.dumps(store))


async def _start(
    stack: Stack,
    name: str,
    args: list[str],
    *,
    cwd: Path = PROJECT_DIR,
    env: dict[str, str] | None = None,
) -> None:
    """Start `python <args>`, its output in `<log_dir>/<name>.log`."""
    with (stack.log_dir / f"{name}.log").open("wb") as log:  # the child keeps its own copy
        stack.processes[name] = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )


async def _wait_until_up(stack: Stack, name: str, probe: Probe) -> None:
    """Poll `probe()` until it is true; fail at once when the process dies."""
    process = stack.processes[name]
    async with asyncio.timeout(START_TIMEOUT):
        while True:
            if process.returncode is not None:
                log = stack.log_dir / f"{name}.log"
                raise RuntimeError(f"{name} exited with {process.returncode}; see {log}")
            with contextlib.suppress(OSError, aiohttp.ClientError):
                if await probe():
                    return
            await asyncio.sleep(0.5)


def _tcp_open(port: int) -> Probe:
    async def probe() -> bool:
        _, writer = await asyncio.open_connection(LOOPBACK, port)
        writer.close()
        await writer.wait_closed()
        return True

    return probe


def _http_ok(session: aiohttp.ClientSession, url: str) -> Probe:
    async def probe() -> bool:
        async with session.get(url) as response:
            return response.status == 200

    return probe


async def _stop(processes: dict[str, asyncio.subprocess.Process]) -> None:
    """SIGTERM each in STOP_ORDER, kill it when it does not stop in time."""
    for name in STOP_ORDER:
        process = processes.get(name)
        if process is None or process.returncode is not None:
            continue
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()


def _plan(work_dir: Path, log_dir: Path) -> Stack:
    """Free ports for everything and a fresh config folder."""
    board_http = free_port_run(BOARDS)
    board_ssdp = free_port_run(BOARDS, socket.SOCK_DGRAM)
    # devtools/board_simulator/__main__.py numbers its boards' MACs from 01.
    control_port = free_port()
    boards = [
        SimulatedBoardProcess(f"5c:cf:7f:00:00:{i + 1:02x}", board_http + i, board_ssdp + i, control_port)
        for i in range(BOARDS)
    ]
    http_port = free_port()
    config_dir = work_dir / "config"
    _write_config(config_dir, http_port)
    log_dir.mkdir(parents=True, exist_ok=True)
    return Stack(
        ha_url=f"http://{LOOPBACK}:{http_port}",
        moto_url=f"http://{LOOPBACK}:{free_port()}",
        iot_url=f"ws://{LOOPBACK}:{free_port()}/mqtt",
        config_dir=config_dir,
        log_dir=log_dir,
        discoverable_board=boards[0],
        hidden_board=boards[1],
    )


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


async def _start_all(stack: Stack, session: aiohttp.ClientSession) -> None:
    iot_port, moto_port = _port_of(stack.iot_url), _port_of(stack.moto_url)
    await _start(
        stack,
        "emulator",
        ["-m", "devtools.iot_emulator", "--port", str(iot_port), "--moto-port", str(moto_port)],
    )
    first = stack.discoverable_board
    ports = [
        "--http-base-port",
        str(first.http_port),
        "--ssdp-base-port",
        str(first.ssdp_port),
        "--control-port",
        str(first.control_port),
    ]
    await _start(
        stack, "boards", ["-m", "devtools.board_simulator", "--boards", str(BOARDS), *ports]
    )
    await _wait_until_up(stack, "emulator", _tcp_open(iot_port))
    await _wait_until_up(stack, "emulator", _tcp_open(moto_port))
    for board in (stack.discoverable_board, stack.hidden_board):
        await _wait_until_up(stack, "boards", _http_ok(session, f"{board.url}/status"))
    await _start(
        stack,
        "hass",
        ["-m", "homeassistant", "--config", str(stack.config_dir), "--skip-pip"],
        # Not the project folder: its own custom_components package would shadow the config
        # folder's (python -m puts the working directory first on sys.path).
        cwd=stack.config_dir,
        env={
            # pre-fill the account form's advanced section (config_flow._account_schema)
            "KONNECTED_AWS_ENDPOINT_URL": stack.moto_url,
            "KONNECTED_AWS_IOT_URL": stack.iot_url,
            # only the first board is found by SSDP; the other one is added by address
            "KONNECTED_DEV_SSDP_TARGETS": f"{LOOPBACK}:{first.ssdp_port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        },
    )
    await _wait_until_up(stack, "hass", _http_ok(session, f"{stack.ha_url}/api/onboarding"))


@contextlib.asynccontextmanager
async def running_stack(work_dir: Path, log_dir: Path) -> AsyncIterator[Stack]:
    """Start emulator, boards and Home Assistant; stop them all afterwards."""
    stack = await asyncio.to_thread(_plan, work_dir, log_dir)
    try:
        async with aiohttp.ClientSession() as session:
            await _start_all(stack, session)
        yield stack
    finally:
        await _stop(stack.processes)
