"""Walk a running `scripts/develop` the way the frontend does, and check what a newcomer sees.

`scripts/run python -m devtools.develop_smoke` while `scripts/develop` runs (fresh `.dev/`):
onboards a user, adds the AWS account through the config flow (progress included), adopts every
discovered board with one click each, then flips zone 1 on the first simulated board and waits
for its binary_sensor to follow. Uses only the REST API the frontend uses; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import aiohttp

CLIENT_ID = "http://127.0.0.1:8123/"
DOMAIN = "konnected_aws"


class HomeAssistantUi:
    """The calls the frontend makes, with an owner's token."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        """Talk to the Home Assistant at `base`; `log_in` first."""
        self._session = session
        self._base = base
        self._token: str | None = None

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        async with self._session.request(method, self._base + path, headers=headers, **kwargs) as response:
            if response.status >= 400:
                raise RuntimeError(f"{method} {path}: HTTP {response.status} {await response.text()}")
            return await response.json()

    async def log_in(self, username: str, password: str) -> None:
        """Create the owner on a fresh instance (onboarding), then get a token."""
        steps = await self._json("GET", "/api/onboarding")
        if any(step["step"] == "user" and not step["done"] for step in steps):
            answer = await self._json(
                "POST",
                "/api/onboarding/users",
                json={"client_id": CLIENT_ID, "name": "Smoke", "username": username, "password": password, "language": "en"},
            )
            code = answer["auth_code"]
        else:
            flow = await self._json(
                "POST", "/auth/login_flow",
                json={"client_id": CLIENT_ID, "handler": ["homeassistant", None], "redirect_uri": CLIENT_ID},
            )
            result = await self._json(
                "POST", f"/auth/login_flow/{flow['flow_id']}",
                json={"client_id": CLIENT_ID, "username": username, "password": password},
            )
            code = result["result"]
        tokens = await self._json(
            "POST", "/auth/token", data={"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID}
        )
        self._token = tokens["access_token"]

    async def start_flow(self, handler: str) -> dict[str, Any]:
        """Start a config flow of `handler`."""
        return dict(await self._json("POST", "/api/config/config_entries/flow", json={"handler": handler}))

    async def submit(self, flow_id: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Submit a flow step."""
        return dict(await self._json("POST", f"/api/config/config_entries/flow/{flow_id}", json=data or {}))

    async def until_progress_done(self, result: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        """Wait out a progress step: the frontend waits, then submits nothing to move on."""
        async with asyncio.timeout(timeout):
            while result["type"] == "progress":
                await asyncio.sleep(1)
                result = dict(await self._json("GET", f"/api/config/config_entries/flow/{result['flow_id']}"))
        if result["type"] == "progress_done":
            result = await self.submit(result["flow_id"])
        return result

    async def discovered(self, handler: str) -> list[dict[str, Any]]:
        """Flows in progress (the "Discovered" cards), over the WebSocket API like the frontend."""
        async with self._session.ws_connect(self._base.replace("http", "ws", 1) + "/api/websocket") as ws:
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self._token})
            if (await ws.receive_json())["type"] != "auth_ok":
                raise RuntimeError("WebSocket authentication failed")
            await ws.send_json({"id": 1, "type": "config_entries/flow/progress"})
            answer = await ws.receive_json()
        return [flow for flow in answer["result"] if flow["handler"] == handler]

    async def state(self, entity_id: str) -> str | None:
        """Return an entity's state, or None while it does not exist (yet: adoption reloads the entry)."""
        headers = {"Authorization": f"Bearer {self._token}"}
        async with self._session.get(f"{self._base}/api/states/{entity_id}", headers=headers) as response:
            if response.status == 404:
                return None
            if response.status >= 400:
                raise RuntimeError(f"GET {entity_id}: HTTP {response.status} {await response.text()}")
            return str((await response.json())["state"])

    async def entity_ids(self, prefix: str) -> list[str]:
        """Return the entity ids starting with `prefix`."""
        return [state["entity_id"] for state in await self._json("GET", "/api/states") if state["entity_id"].startswith(prefix)]


async def wait_until(check: Any, what: str, timeout: float = 60) -> Any:
    """Wait until `check` returns something true, and return it."""
    async with asyncio.timeout(timeout):
        while not (value := await check()):
            await asyncio.sleep(1)
    print(f"ok: {what}")
    return value


async def main(args: argparse.Namespace) -> int:
    """Run the smoke test against a running Home Assistant."""
    async with aiohttp.ClientSession() as session:
        ui = HomeAssistantUi(session, args.url)
        await ui.log_in(args.username, args.password)
        print("ok: logged in")

        result = await ui.start_flow(DOMAIN)
        if result["type"] == "form":
            result = await ui.submit(
                result["flow_id"],
                {
                    "access_key_id": "AKIADEVELOPSMOKE",
                    "secret_access_key": "develop-smoke-secret",
                    "region": "us-east-1",
                    "advanced": {"aws_endpoint_url": args.moto_url, "iot_url": args.iot_url},
                },
            )
            result = await ui.until_progress_done(result)
        if result["type"] == "create_entry":
            print(f"ok: account entry {result['title']!r} created")
        elif result.get("reason") == "already_configured":
            print("ok: account already set up")
        else:
            print(f"account flow ended with {result}", file=sys.stderr)
            return 1

        async def all_discovered() -> list[dict[str, Any]] | None:
            flows = await ui.discovered(DOMAIN)
            return flows if len(flows) >= args.boards else None

        flows = await wait_until(all_discovered, f"{args.boards} boards discovered over SSDP")
        for flow in flows:
            answer = await ui.submit(flow["flow_id"])
            print(f"ok: adopted {flow['context'].get('title_placeholders', {})} -> {answer.get('reason')}")

        board_url = f"http://127.0.0.1:{args.board_http_port}"
        async with session.get(f"{board_url}/status") as response:
            mac = str((await response.json())["mac"]).replace(":", "").lower()
        zone_1 = f"binary_sensor.konnected_{mac[-6:]}_zone_1"
        for level, expected in ((1, "on"), (0, "off")):
            control = f"http://127.0.0.1:{args.board_control_port}/zone"
            async with session.post(control, json={"board": mac, "zone": "1", "state": level}):
                pass

            async def follows(expected: str = expected) -> bool:
                return await ui.state(zone_1) == expected

            await wait_until(follows, f"{zone_1} is {expected}", timeout=20)
        return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--username", default="smoke")
    parser.add_argument("--password", default="smoke-test-password")
    parser.add_argument("--moto-url", default="http://127.0.0.1:5055")
    parser.add_argument("--iot-url", default="ws://127.0.0.1:8884/mqtt")
    parser.add_argument("--board-http-port", type=int, default=9101, help="the first board's")
    parser.add_argument("--board-control-port", type=int, default=9100, help="the simulator's POST /zone")
    parser.add_argument("--boards", type=int, default=2, help="how many to expect (fresh .dev/ only)")
    sys.exit(asyncio.run(main(parser.parse_args())))
