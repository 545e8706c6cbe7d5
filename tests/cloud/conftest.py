"""moto in-process, with IoT custom authorizers added (devtools/moto_authorizers.py).

moto 5.2.5 implements none of CreateAuthorizer, DescribeAuthorizer, UpdateAuthorizer,
DeleteAuthorizer, ListAuthorizers (each raises NotImplementedError); the devtools shim adds them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError
from moto import mock_aws
import pytest

from custom_components.konnected_aws.cloud import AwsCredentials, CloudAccount
from devtools import moto_authorizers

REGION = "eu-west-1"
MUTATING_PREFIXES = ("Create", "Update", "Put", "Add", "Delete", "Remove", "Tag", "Untag")


def new_account(sleeps: list[float] | None = None) -> CloudAccount:
    """A CloudAccount on the emulated account; recorded `sleeps` instead of waiting."""
    recorded = sleeps if sleeps is not None else []
    return CloudAccount(
        AwsCredentials("AKIATESTTESTTEST", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", REGION),
        sleep=recorded.append,
    )


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudAccount]:
    """A fresh emulated account; nothing reaches AWS."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    moto_authorizers.install()
    with mock_aws():
        yield new_account()


def client_error(code: str, operation: str, message: str = "x") -> ClientError:
    """An error as botocore raises it for an AWS error response."""
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def record_calls(account: CloudAccount) -> list[str]:
    """Every AWS operation the account's (not yet created) clients will call, in order."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(f"{model.service_model.service_name}:{model.name}")

    account._session.events.register("before-call", record)
    return calls


def mutating(calls: list[str]) -> list[str]:
    """The calls that change something in the account."""
    return [call for call in calls if call.split(":", 1)[1].startswith(MUTATING_PREFIXES)]


def fail_once(client: Any, method: str, error: Exception) -> Callable[[], int]:
    """Make one client method raise once (a fault on top of moto); returns a call counter."""
    real = getattr(client, method)
    count = 0

    def wrapper(**kwargs: Any) -> Any:
        nonlocal count
        count += 1
        if count == 1:
            raise error
        return real(**kwargs)

    setattr(client, method, wrapper)
    return lambda: count
