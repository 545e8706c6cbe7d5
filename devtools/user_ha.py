"""Home Assistant as a user installs it, for `scripts/develop` and tests/test_install.py.

A user's Home Assistant has nothing of ours installed: it installs the manifest's requirements
itself the first time the integration is used, one `uv pip install --upgrade <requirement>
--constraint homeassistant/package_constraints.txt` each (home-assistant/core 2026.10.4,
homeassistant/requirements.py `pip_kwargs` and `_install_requirements_if_missing`,
homeassistant/util/package.py `install_package`). Here that is a venv with `homeassistant` as
Home Assistant's images install it (under its constraints) plus what it installs for its own
integrations on a first start; resolved once per version into KONNECTED_AWS_CACHE, then synced
from uv's cache in about a second. Next to it: a config dir with our custom components, the local
AWS IoT emulation, simulated boards, and `hass` started without `--skip-pip`.

The HTTP server's address is not set with an `http:` YAML block: since 2026.10 Home Assistant
keeps it in `.storage/http` and migrates YAML once into an unconfirmed trial (reverted after five
minutes unless confirmed in the UI) plus a deprecation repair (components/http/config.py
`async_load_config`). The config dir instead starts with `.storage/http` in the format earlier
releases stored (version 1: just the settings); Home Assistant migrates it itself, through its own
schema, into the confirmed ("stable") settings (`_HTTPStore._async_migrate_func`).

`python -m devtools.user_ha` runs it all for `scripts/develop` until Ctrl-C.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
import contextlib
from dataclasses import dataclass, field
import importlib.metadata
import json
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from types import FrameType
from typing import IO, Final, Self
import urllib.error
import urllib.request

ROOT: Final = Path(__file__).resolve().parent.parent
COMPONENTS: Final = {
    "konnected_aws": ROOT / "custom_components" / "konnected_aws",
    # Loopback SSDP discovery of simulated boards (HA's own scanner only multicasts).
    "konnected_dev": ROOT / "devtools" / "ha_dev" / "konnected_dev",
}
MANIFEST: Final = COMPONENTS["konnected_aws"] / "manifest.json"
HA_LOG: Final = "home-assistant.log"
LOOPBACK: Final = "127.0.0.1"


def suite_ha_version() -> str:
    """Return the Home Assistant the test suite runs on (requirements_test.txt pins it)."""
    return importlib.metadata.version("homeassistant")


def manifest_requirements() -> list[str]:
    """Return the requirement strings Home Assistant installs for the integration."""
    return list(json.loads(MANIFEST.read_text())["requirements"])


def cache_dir() -> Path:
    """Where uv's cache and the resolved Home Assistant installs live (scripts/_env.sh sets it)."""
    return Path(os.environ.get("KONNECTED_AWS_CACHE") or Path.home() / ".cache" / "konnected-aws")


# --- A venv with Home Assistant and nothing of ours -------------------------------------------


def _clean_environ() -> dict[str, str]:
    """Return this process's environment without the test venv's activation."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    if venv := os.environ.get("VIRTUAL_ENV"):
        env["PATH"] = os.pathsep.join(
            part
            for part in env.get("PATH", "").split(os.pathsep)
            if part != str(Path(venv) / "bin")
        )
    return env


def _uv_env() -> dict[str, str]:
    return {**_clean_environ(), "UV_CACHE_DIR": str(cache_dir() / "uv")}


def _uv(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "uv", *args], env=_uv_env(), text=True, check=True, **kwargs
    )


def base_python() -> str:
    """Return the interpreter this venv was made from: a user's venv uses the system Python."""
    return str(
        Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    )


def resolve_ha_version(wanted: str) -> str:
    """`latest` becomes the newest release on PyPI; anything else is taken as is."""
    if wanted != "latest":
        return wanted
    resolved = _uv(
        ["pip", "compile", "--quiet", "--no-header", "--no-deps", "--python", base_python(), "-"],
        input="homeassistant\n",
        capture_output=True,
    ).stdout
    for line in resolved.splitlines():
        if line.startswith("homeassistant=="):
            return line.removeprefix("homeassistant==").strip()
    raise RuntimeError(f"no homeassistant release found: {resolved}")


def _version_dir(ha_version: str) -> Path:
    directory = cache_dir() / "homeassistant" / ha_version
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _keep(target: Path, content: str) -> None:
    """Write whole or not at all: an interrupted run never leaves half a lock file."""
    partial = target.with_suffix(".partial")
    partial.write_text(content)
    partial.rename(target)


def ha_constraints(ha_version: str) -> Path:
    """Return that version's homeassistant/package_constraints.txt (it ships inside the wheel)."""
    constraints = _version_dir(ha_version) / "package_constraints.txt"
    if not constraints.exists():
        with tempfile.TemporaryDirectory(dir=constraints.parent) as unpacked:
            _uv(
                [
                    "pip",
                    "install",
                    "--quiet",
                    "--no-deps",
                    "--python",
                    base_python(),
                    "--target",
                    unpacked,
                    f"homeassistant=={ha_version}",
                ],
            )
            _keep(
                constraints,
                (Path(unpacked) / "homeassistant" / "package_constraints.txt").read_text(),
            )
    return constraints


def ha_lock(ha_version: str) -> Path:
    """Return what Home Assistant's own images install for that version.

    That is `homeassistant` under its package_constraints.txt (core's requirements.txt starts with `-c`); resolved once and kept.
    """
    lock = _version_dir(ha_version) / "requirements.txt"
    if not lock.exists():
        compiled = _uv(
            [
                "pip",
                "compile",
                "--quiet",
                "--python",
                base_python(),
                "--constraint",
                str(ha_constraints(ha_version)),
                "-",
            ],
            input=f"homeassistant=={ha_version}\n",
            capture_output=True,
        ).stdout
        _keep(lock, compiled)
    return lock


def started_lock(ha_version: str) -> Path:
    """Return the same install after Home Assistant's first start.

    Then it installs its own integrations' requirements (the frontend, assist...; its images ship them). Made once per version by starting
    it with nothing of ours, but with `ssdp`, our after-dependency, configured.
    """
    lock = _version_dir(ha_version) / "after-first-start.txt"
    if lock.exists():
        return lock
    with tempfile.TemporaryDirectory(prefix="first-start-", dir=lock.parent) as scratch:
        venv, config_dir = Path(scratch) / "venv", Path(scratch) / "config"
        sync_venv(venv, ha_lock(ha_version))
        (http_port,) = free_ports(1)
        prepare_config_dir(
            config_dir, http_port=http_port, components=(), link=False, domains=("ssdp",)
        )
        with (Path(scratch) / "output.log").open("wb") as output:
            hass = start_home_assistant(venv, config_dir, {}, output)
            try:
                wait_for_log(config_dir, "Home Assistant initialized", hass, timeout=900)
            finally:
                stop_process(hass, timeout=60)
        _keep(
            lock,
            _uv(
                ["pip", "freeze", "--python", str(venv / "bin" / "python")], capture_output=True
            ).stdout,
        )
    return lock


def sync_venv(venv: Path, lock: Path) -> None:
    """Make a new venv holding exactly `lock`, hard-linked from uv's cache (seconds once cached)."""
    shutil.rmtree(venv, ignore_errors=True)
    _uv(["venv", "--quiet", "--python", base_python(), str(venv)])
    sync = ["pip", "sync", "--quiet", "--python", str(venv / "bin" / "python"), str(lock)]
    try:
        _uv([*sync, "--offline"], capture_output=True)
    except subprocess.CalledProcessError:
        _uv(sync)  # first time for this lock: download into the cache


def make_ha_venv(venv: Path, ha_version: str) -> None:
    """Make a new venv with Home Assistant as after its first start (`started_lock`), nothing of ours."""
    sync_venv(venv, started_lock(ha_version))
    (venv / ".homeassistant-version").write_text(ha_version)


def ensure_ha_venv(venv: Path, ha_version: str) -> None:
    """Keep an existing venv of that version, or make a new one.

    An existing one stays as it is, with whatever Home Assistant installed; a new one is as after Home Assistant's first start, with nothing of ours.
    """
    stamp = venv / ".homeassistant-version"
    if not (
        stamp.exists() and stamp.read_text() == ha_version and (venv / "bin" / "hass").exists()
    ):
        make_ha_venv(venv, ha_version)


def installed_version(venv: Path, distribution: str) -> str | None:
    """Return a distribution's version in that venv, or None."""
    result = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            (
                "import importlib.metadata as m, sys\n"
                "try: print(m.version(sys.argv[1]))\n"
                "except m.PackageNotFoundError: pass"
            ),
            distribution,
        ],
        env=_clean_environ(),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip() or None


# --- A config dir ------------------------------------------------------------------------------


def seed_http_store(config_dir: Path, port: int) -> None:
    """Loopback-only HTTP server on `port`, as the stored settings HA migrates (see module doc)."""
    store = config_dir / ".storage" / "http"
    if store.exists():
        return
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(
        json.dumps(
            {"version": 1, "key": "http", "data": {"server_host": [LOOPBACK], "server_port": port}},
            indent=2,
        )
    )


def prepare_config_dir(
    config_dir: Path,
    *,
    http_port: int,
    components: Iterable[str],
    link: bool,
    domains: Iterable[str],
) -> None:
    """Prepare custom components (symlinked for development, copied like HACS does), YAML, HTTP settings."""
    custom = config_dir / "custom_components"
    custom.mkdir(parents=True, exist_ok=True)
    for name in components:
        target = custom / name
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)
        if link:
            target.symlink_to(COMPONENTS[name], target_is_directory=True)
        else:
            shutil.copytree(COMPONENTS[name], target, ignore=shutil.ignore_patterns("__pycache__"))
    configuration = config_dir / "configuration.yaml"
    if not configuration.exists():
        configuration.write_text(
            "# The HTTP server (127.0.0.1) is in .storage/http: see devtools/user_ha.py.\n"
            + "".join(f"{domain}:\n" for domain in domains)
            + "logger:\n"
            "  default: info\n"
            "  logs:\n"
            "    custom_components.konnected_aws: debug\n"
        )
    elif any(line.startswith("http:") for line in configuration.read_text().splitlines()):
        print(
            f"warning: {configuration} has an http: block, which Home Assistant only migrates once "
            "into an unconfirmed trial; remove it (or the whole directory to start over)",
            file=sys.stderr,
        )
    seed_http_store(config_dir, http_port)


# --- Processes ---------------------------------------------------------------------------------


def free_ports(count: int, kind: socket.SocketKind = socket.SOCK_STREAM) -> list[int]:
    """Distinct loopback ports nobody uses right now."""
    with contextlib.ExitStack() as stack:
        probes = [stack.enter_context(socket.socket(socket.AF_INET, kind)) for _ in range(count)]
        for probe in probes:
            probe.bind((LOOPBACK, 0))
        return [int(probe.getsockname()[1]) for probe in probes]


@dataclass(frozen=True)
class Ports:
    """Where each piece listens on 127.0.0.1."""

    http: int = 8123
    iot: int = 8884
    moto: int = 5055
    board_http: int = 9101
    board_ssdp: int = 9201
    # The simulator's scripting endpoint (POST /zone), not part of any board.
    board_control: int = 9100

    @classmethod
    def free(cls, boards: int) -> Ports:
        """Free ports; the simulator numbers each board's ports up from a base, so those run on."""
        http, iot, moto, control, *board_http = free_ports(4 + boards)
        board_ssdp = free_ports(boards, socket.SOCK_DGRAM)
        if any(port != board_http[0] + index for index, port in enumerate(board_http)) or any(
            port != board_ssdp[0] + index for index, port in enumerate(board_ssdp)
        ):
            return cls.free(boards)
        return cls(http, iot, moto, board_http[0], board_ssdp[0], control)

    @property
    def url(self) -> str:
        """Return Home Assistant's URL."""
        return f"http://{LOOPBACK}:{self.http}"

    @property
    def moto_url(self) -> str:
        """Return the moto server's URL."""
        return f"http://{LOOPBACK}:{self.moto}"

    @property
    def iot_url(self) -> str:
        """Return the IoT emulator's WebSocket URL."""
        return f"ws://{LOOPBACK}:{self.iot}/mqtt"


def spawn(
    args: list[str], output: IO[bytes] | None, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """In its own session: a Ctrl-C in the terminal reaches only us, and we stop it by its id."""
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT if output else None,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM (Home Assistant and our tools stop cleanly on it), SIGKILL after `timeout`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def home_assistant_env(venv: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """Return an activated venv, as a user starts `hass`."""
    env = _uv_env()
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "/usr/bin:/bin")])
    return {**env, **extra}


def start_home_assistant(
    venv: Path, config_dir: Path, extra_env: Mapping[str, str], output: IO[bytes] | None
) -> subprocess.Popen[bytes]:
    """`hass` without --skip-pip: it installs what integrations require, as for every user."""
    return spawn(
        [str(venv / "bin" / "hass"), "--config", str(config_dir)],
        output,
        home_assistant_env(venv, extra_env),
    )


def listening(port: int) -> bool:
    """Tell whether a TCP socket listens on `port`.

    Read from /proc/net/tcp on Linux: connecting to probe would make the emulator's WebSocket server log a failed handshake.
    """
    tables = [Path("/proc/net/tcp"), Path("/proc/net/tcp6")]
    if not tables[0].exists():
        with socket.socket() as probe:
            probe.settimeout(1)
            return probe.connect_ex((LOOPBACK, port)) == 0
    for table in tables:
        for line in table.read_text().splitlines()[1:] if table.exists() else []:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                return True
    return False


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until something listens on `port`; fails early if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        if listening(port):
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {LOOPBACK}:{port} after {timeout} s")


def wait_for_log(
    config_dir: Path, text: str, process: subprocess.Popen[bytes], timeout: float
) -> None:
    """Until Home Assistant's log has `text`; fails early if it exits."""
    log = config_dir / HA_LOG
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Home Assistant exited with {process.returncode}")
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(1)
    raise TimeoutError(f"no {text!r} in {log} after {timeout} s")


@dataclass
class DevStack:
    """The local AWS IoT emulation, simulated boards and a user's Home Assistant, as processes.

    Each in its own session, stopped one by one (Home Assistant first) by their process ids.
    Their output goes where ours goes; Home Assistant's log is also in its config dir.
    """

    ha_venv: Path
    config_dir: Path
    ports: Ports
    boards: int
    _processes: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def __enter__(self) -> Self:
        """Start the stack; stop what started if starting fails."""
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the stack."""
        self.stop()

    def _start(
        self, name: str, args: list[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        process = spawn(args, None, env)
        self._processes.append((name, process))
        return process

    def start(self) -> None:
        """Start the emulator, the boards and Home Assistant."""
        python, ports = sys.executable, self.ports
        emulator = self._start(
            "iot-emulator",
            [
                python,
                "-m",
                "devtools.iot_emulator",
                "--port",
                str(ports.iot),
                "--moto-port",
                str(ports.moto),
            ],
        )
        wait_for_port(ports.iot, emulator, timeout=120)
        wait_for_port(ports.moto, emulator, timeout=120)
        boards = self._start(
            "boards",
            [
                python,
                "-m",
                "devtools.board_simulator",
                "--boards",
                str(self.boards),
                "--http-base-port",
                str(ports.board_http),
                "--ssdp-base-port",
                str(ports.board_ssdp),
                "--control-port",
                str(ports.board_control),
            ],
        )
        wait_for_port(ports.board_http, boards, timeout=120)
        dev_env = {
            "KONNECTED_DEV_SSDP_TARGETS": ",".join(
                f"{LOOPBACK}:{ports.board_ssdp + i}" for i in range(self.boards)
            ),
            # Pre-fill the account flow's advanced section with the emulation's endpoints.
            "KONNECTED_AWS_ENDPOINT_URL": ports.moto_url,
            "KONNECTED_AWS_IOT_URL": ports.iot_url,
        }
        self._processes.append(
            ("home-assistant", start_home_assistant(self.ha_venv, self.config_dir, dev_env, None))
        )

    def stop(self) -> None:
        """Stop every process, Home Assistant first."""
        for name, process in reversed(self._processes):
            stop_process(process, timeout=60 if name == "home-assistant" else 15)
        self._processes.clear()


def wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until Home Assistant's HTTP API answers at `url`; fails early if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(f"{url}/api/onboarding", timeout=5) as response,
        ):
            if response.status == 200:
                return
        time.sleep(1)
    raise TimeoutError(f"Home Assistant not serving at {url} after {timeout} s")


# --- scripts/develop ---------------------------------------------------------------------------


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Run until Ctrl-C (or SIGTERM), then stop everything cleanly."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=ROOT / ".dev", help="state: venv/ and config/")
    parser.add_argument(
        "--ha-version", default=None, help="default: the suite's; `latest`: newest on PyPI"
    )
    parser.add_argument(
        "--copy", action="store_true", help="copy the custom components (as HACS does), not link"
    )
    parser.add_argument("--boards", type=int, default=2)
    parser.add_argument("--http-port", type=int, default=Ports.http)
    parser.add_argument("--iot-port", type=int, default=Ports.iot)
    parser.add_argument("--moto-port", type=int, default=Ports.moto)
    parser.add_argument("--board-http-port", type=int, default=Ports.board_http)
    parser.add_argument("--board-ssdp-port", type=int, default=Ports.board_ssdp)
    parser.add_argument("--board-control-port", type=int, default=Ports.board_control)
    args = parser.parse_args()
    # Also when started with SIGINT ignored (a background job of a non-interactive shell).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    ports = Ports(
        args.http_port,
        args.iot_port,
        args.moto_port,
        args.board_http_port,
        args.board_ssdp_port,
        args.board_control_port,
    )
    ha_version = resolve_ha_version(args.ha_version or suite_ha_version())
    venv, config_dir = args.dir / "venv", args.dir / "config"
    try:
        print(
            f"Home Assistant {ha_version} in {venv}: it installs what integrations need itself",
            flush=True,
        )
        ensure_ha_venv(venv, ha_version)
        # What our integration needs and no more: default_config would add integrations that call
        # out to the internet or need hardware.
        prepare_config_dir(
            config_dir,
            http_port=ports.http,
            components=COMPONENTS,
            link=not args.copy,
            domains=("konnected_dev",),
        )
        with DevStack(venv, config_dir, ports, args.boards):
            print(
                f"Home Assistant: {ports.url} (it installs our requirements on first use)\n"
                "  create a user, then Settings > Devices & services > Add integration >\n"
                "  Konnected (AWS IoT); any access key/secret works against the emulator, the\n"
                "  advanced section is pre-filled; then adopt the discovered boards.\n"
                "  Zone changes: python -m devtools.board_simulator --help\n"
                f"  Log: {config_dir / HA_LOG}; Ctrl-C stops everything",
                flush=True,
            )
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
