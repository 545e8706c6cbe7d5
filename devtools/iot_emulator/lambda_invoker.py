"""Runs the Lambda functions deployed in moto the way AWS IoT invokes an authorizer.

The code is the function's deployment package as stored by moto (so a broken package or
handler name fails here as it would in AWS), unpacked once per code hash, and executed by
`lambda_runtime.py` in a child process with the function's environment variables and boto3
pointed at the moto server. One runtime process per emulator serves invocations one at a
time; it is started when the emulator starts, so its cold start (importing boto3) is not paid
by the first connection. An invocation that outlives its timeout kills the runtime (a new one
is started), as Lambda ends a timed-out container.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import hashlib
import io
import json
import logging
import os
from pathlib import Path
import sys
from typing import Any, Final
import uuid
import zipfile

_LOGGER = logging.getLogger(__name__)

RUNTIME_FILE: Final = Path(__file__).with_name("lambda_runtime.py")
# Lambda's init phase may take up to 10 s before the first event.
INIT_TIMEOUT_SECONDS: Final = 10.0


class LambdaInvocationError(Exception):
    """The function failed, timed out or could not be run."""


@dataclass(frozen=True, slots=True)
class DeployedFunction:
    """What the runtime needs of a function deployed in moto."""

    function_arn: str
    function_name: str
    handler: str
    environment: dict[str, str]
    timeout: float
    code: bytes


class LambdaRuntime:
    """One child process running deployed functions, started again after a timeout or crash."""

    def __init__(self, endpoint_url: str, region: str, work_dir: Path) -> None:
        """`endpoint_url` is the moto server every boto3 call of the function goes to."""
        self._environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "emulated-lambda",
            "AWS_SECRET_ACCESS_KEY": "emulated-lambda",
            "AWS_SESSION_TOKEN": "emulated-lambda",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self._work_dir = work_dir
        self._process: asyncio.subprocess.Process | None = None
        self._ready: asyncio.Task[asyncio.subprocess.Process] | None = None
        self._lock = asyncio.Lock()
        self._log_tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Start the child process in the background (idempotent)."""
        if self._ready is None:
            self._ready = asyncio.get_running_loop().create_task(
                self._spawn(), name="emulated lambda runtime"
            )

    async def stop(self) -> None:
        """End the child process."""
        ready, self._ready = self._ready, None
        if ready is not None:
            ready.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await ready
        await self._kill()
        for task in list(self._log_tasks):
            task.cancel()
        await asyncio.gather(*self._log_tasks, return_exceptions=True)

    async def invoke(
        self, function: DeployedFunction, event: dict[str, Any], timeout: float
    ) -> Any:
        """Return the function's result; LambdaInvocationError if it raised, timed out or did not run."""
        request = {
            "code_dir": str(self._unpacked(function.code)),
            "handler": function.handler,
            "environment": function.environment,
            "function_arn": function.function_arn,
            "function_name": function.function_name,
            "timeout": timeout,
            "request_id": str(uuid.uuid4()),
            "event": event,
        }
        async with self._lock:
            process = await self._running()
            assert process.stdin is not None and process.stdout is not None
            try:
                process.stdin.write((json.dumps(request) + "\n").encode())
                await process.stdin.drain()
                async with asyncio.timeout(timeout):
                    line = await process.stdout.readline()
            except TimeoutError as err:
                await self._restart()
                raise LambdaInvocationError(f"Task timed out after {timeout:.2f} seconds") from err
            except (ConnectionError, OSError) as err:
                await self._restart()
                raise LambdaInvocationError("The runtime exited") from err
        if not line:
            await self._restart()
            raise LambdaInvocationError("The runtime exited")
        reply = json.loads(line)
        if "error" in reply:
            raise LambdaInvocationError(f"The function raised {reply['error']}")
        return reply.get("result")

    def _unpacked(self, code: bytes) -> Path:
        target = self._work_dir / hashlib.sha256(code).hexdigest()
        if not target.exists():
            staging = target.with_suffix(".tmp")
            try:
                with zipfile.ZipFile(io.BytesIO(code)) as package:
                    package.extractall(staging)
            except zipfile.BadZipFile as err:
                raise LambdaInvocationError("The deployment package is not a zip file") from err
            staging.rename(target)
        return target

    async def _running(self) -> asyncio.subprocess.Process:
        self.start()
        assert self._ready is not None
        try:
            async with asyncio.timeout(INIT_TIMEOUT_SECONDS):
                return await asyncio.shield(self._ready)
        except (TimeoutError, LambdaInvocationError) as err:
            await self._restart()
            raise LambdaInvocationError("The runtime did not start") from err

    async def _spawn(self) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(RUNTIME_FILE),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._environment,
            cwd=str(self._work_dir),
        )
        self._process = process
        assert process.stdout is not None and process.stderr is not None
        task = asyncio.get_running_loop().create_task(self._forward_logs(process.stderr))
        self._log_tasks.add(task)
        task.add_done_callback(self._log_tasks.discard)
        line = await process.stdout.readline()
        if not line or not json.loads(line).get("ready"):
            raise LambdaInvocationError("The runtime did not start")
        return process

    @staticmethod
    async def _forward_logs(stream: asyncio.StreamReader) -> None:
        """Forward the function's log lines (Lambda sends them to CloudWatch) at debug level."""
        while line := await stream.readline():
            _LOGGER.debug("lambda: %s", line.decode(errors="replace").rstrip())

    async def _restart(self) -> None:
        ready, self._ready = self._ready, None
        if ready is not None and not ready.done():
            ready.cancel()
        await self._kill()
        self.start()

    async def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        await process.wait()
