"""A Lambda-like Python runtime.

The emulator runs each authorizer invocation here, in a child process of its own, the way Lambda runs a function in its own container.

Started by `lambda_invoker.LambdaRuntime` as `python lambda_runtime.py` (standard library and
boto3 only, no project imports). The process environment is the runtime's: AWS credentials for
moto, `AWS_ENDPOINT_URL` pointing at the moto server (so the function's boto3 calls never leave
127.0.0.1) and no shared AWS config files. Protocol, one JSON object per line:
- the runtime writes `{"ready": true}` once boto3 is imported (Lambda's init phase);
- the emulator writes `{"code_dir", "handler", "environment", "function_arn", "function_name",
  "timeout", "request_id", "event"}`;
- the runtime answers `{"result": ...}` or `{"error": "<exception type>"}`.
The function's module stays imported between invocations of the same code and environment (a
warm container); other code or environment means a fresh import (a new container). The
function's own output goes to stderr (Lambda's log stream), never into the protocol.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from typing import Any, TextIO


class LambdaContext:
    """The parts of Lambda's context object a handler commonly reads."""

    def __init__(self, request: dict[str, Any]) -> None:
        """Built per invocation from the emulator's request."""
        self.function_name = str(request["function_name"])
        self.invoked_function_arn = str(request["function_arn"])
        self.aws_request_id = str(request["request_id"])
        self.memory_limit_in_mb = "128"
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + float(request["timeout"])

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the invocation times out."""
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Container:
    """One function's code and environment, imported once."""

    def __init__(self, base_environment: dict[str, str]) -> None:
        """Nothing loaded yet."""
        self._base = base_environment
        self._key: tuple[str, str, str] | None = None
        self._code_dir: str | None = None
        self._modules: set[str] = set()
        self._handler: Any = None

    def handler(self, code_dir: str, handler: str, environment: dict[str, str]) -> Any:
        """Return the handler function, importing the code afresh when code or environment changed."""
        key = (code_dir, handler, json.dumps(environment, sort_keys=True))
        if key != self._key:
            self._reset(code_dir, environment)
            module_name, _, function_name = handler.rpartition(".")
            before = set(sys.modules)
            module = importlib.import_module(module_name)
            self._modules = set(sys.modules) - before
            self._handler = getattr(module, function_name)
            self._key = key
        return self._handler

    def _reset(self, code_dir: str, environment: dict[str, str]) -> None:
        for name in self._modules:
            sys.modules.pop(name, None)
        if self._code_dir in sys.path:
            sys.path.remove(self._code_dir)
        sys.path.insert(0, code_dir)
        self._code_dir = code_dir
        importlib.invalidate_caches()
        os.environ.clear()
        os.environ.update(self._base)
        os.environ.update(environment)


def _answer(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def main() -> None:
    """Serve invocations until stdin closes."""
    # The protocol gets its own copy of stdout; the function's prints and logs go to stderr.
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import logging  # noqa: PLC0415 - after stdout is redirected

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    # The Python runtime ships boto3; importing it is the init phase.
    import boto3  # noqa: F401, PLC0415

    container = Container(dict(os.environ))
    _answer(channel, {"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            handler = container.handler(
                request["code_dir"], request["handler"], request["environment"]
            )
            result = handler(request["event"], LambdaContext(request))
            reply: dict[str, Any] = {"result": result}
            json.dumps(reply)  # Lambda fails an invocation whose result is not JSON
        except Exception as err:  # noqa: BLE001 - as Lambda: any exception of the function fails the invocation
            reply = {"error": type(err).__name__}
        _answer(channel, reply)


if __name__ == "__main__":
    main()
