"""Debian's Chromium under Playwright, kept on loopback, and evidence of a failing step.

Playwright's own browser download is not used: the test launches the system's `chromium`
(installed by scripts/setup) through `executable_path`, headless, with a fresh profile.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import contextlib
import json
from pathlib import Path
import shutil
import time
import traceback
from typing import Any

from playwright.async_api import (
    BrowserContext,
    Page,
    Route,
    WebSocketRoute,
    async_playwright,
    expect,
)

CHROMIUM_FLAGS = [
    "--no-sandbox",  # tests run as root in a chroot, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Paths on Home Assistant that make it fetch from the internet for the browser: the map of
# the onboarding location step (map_tiles proxies OpenStreetMap) and brand images of other
# integrations (brands falls back to its CDN; ours are served from custom_components/.../brand).
_FETCHES_FROM_INTERNET = ("/api/map_tiles/", "/api/brands/")
_OUR_BRAND = "/api/brands/integration/konnected_aws/"

# Serializes the page including every open shadow root: the frontend is almost all shadow DOM,
# which page.content() leaves out.
_PAGE_HTML_JS = """
() => {
  const roots = [];
  const walk = (node) => {
    for (const el of node.querySelectorAll('*')) {
      if (el.shadowRoot) { roots.push(el.shadowRoot); walk(el.shadowRoot); }
    }
  };
  walk(document);
  return document.documentElement.getHTML({shadowRoots: roots});
}
"""


def chromium_executable() -> str:
    """Debian's Chromium, or a clear failure saying how to get it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError(
            "Debian's chromium is not installed where the tests run; scripts/setup installs it "
            "(apt-get install chromium)"
        )
    return found


async def _keep_on_loopback(context: BrowserContext, ha_url: str) -> None:
    """Nothing leaves the machine: requests go to Home Assistant only, and not to the views
    that would make it fetch from the internet on our behalf."""

    async def route(request_route: Route) -> None:
        url = request_route.request.url
        path = url.removeprefix(ha_url)
        local = url.startswith(ha_url + "/")
        fetches_outside = path.startswith(_FETCHES_FROM_INTERNET) and not path.startswith(
            _OUR_BRAND
        )
        if local and not fetches_outside:
            await request_route.continue_()
        else:
            await request_route.abort()

    await context.route("**/*", route)

    # The onboarding location step asks HA to detect the location (config/core/detect), which
    # HA answers by asking a web service; answer as HA does when that service is unreachable.
    def websocket(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            if isinstance(message, str) and '"config/core/detect"' in message:
                request: dict[str, Any] = json.loads(message)
                ws.send(
                    json.dumps(
                        {"id": request["id"], "type": "result", "success": True, "result": {}}
                    )
                )
                return
            server.send(message)

        ws.on_message(from_page)

    await context.route_web_socket(ha_url.replace("http", "ws", 1) + "/api/websocket", websocket)


@contextlib.asynccontextmanager
async def chromium_page(profile_dir: Path, ha_url: str) -> AsyncIterator[Page]:
    """A headless Chromium tab with a fresh profile, kept on loopback."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=chromium_executable(),
            headless=True,  # Playwright passes --headless
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
            locale="en-US",
        )
        try:
            await _keep_on_loopback(context, ha_url)
            page = context.pages[0] if context.pages else await context.new_page()
            page.set_default_timeout(30_000)
            # Pages of a loaded-down CI machine can take longer than expect's 5 s to render.
            expect.set_options(timeout=20_000)
            yield page
        finally:
            await context.close()


class StepRecorder:
    """Names the steps of a walk; a failing step leaves a screenshot, the page's HTML and the
    processes' logs in the artifacts folder, and says where. A passing step leaves a
    screenshot of where it ended."""

    def __init__(self, page: Page, artifacts: Path, logs: list[Path]) -> None:
        """Evidence goes to `artifacts`; `logs` are copied there when a step fails."""
        self._page = page
        self._artifacts = artifacts
        self._logs = logs
        self._count = 0

    @contextlib.asynccontextmanager
    async def __call__(self, name: str) -> AsyncIterator[None]:
        """`async with steps("adopt the board"): ...`"""
        self._count += 1
        label = f"{self._count:02d}-{name.replace(' ', '-')}"
        started = time.monotonic()
        try:
            yield
            # A trail to look at after a green run too (cheap: one screenshot per step).
            await self._page.screenshot(path=str(self._artifacts / f"{label}.done.png"))
            with (self._artifacts / "steps.txt").open("a") as timings:
                timings.write(f"{label}: {time.monotonic() - started:.1f} s\n")
        except Exception as err:
            where = await self._keep_evidence(label, err)
            message = f"browser step {label!r} failed; evidence in {where}"
            print(message)  # noqa: T201 - where the evidence is, in the test's output
            raise AssertionError(message) from err

    async def _keep_evidence(self, label: str, err: BaseException) -> Path:
        self._artifacts.mkdir(parents=True, exist_ok=True)
        (self._artifacts / f"{label}.error.txt").write_text(
            "".join(traceback.format_exception(err))
        )
        with contextlib.suppress(Exception):  # the page may be gone; keep what we can
            await self._page.screenshot(path=str(self._artifacts / f"{label}.png"), full_page=True)
            print(f"screenshot: {self._artifacts / f'{label}.png'}")  # noqa: T201 - where the evidence is, in the test's output
        with contextlib.suppress(Exception):
            html = await self._page.evaluate(_PAGE_HTML_JS)
            (self._artifacts / f"{label}.html").write_text(str(html))
        for log in self._logs:
            if log.exists():
                shutil.copy(log, self._artifacts / log.name)
        return self._artifacts
