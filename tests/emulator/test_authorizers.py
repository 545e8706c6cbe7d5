"""Which authorizer runs, and whether it may: the named one, else the account's default
(SetDefaultAuthorizer), never "the only one"; only ACTIVE authorizers; and only when the
function's resource policy lets iot.amazonaws.com invoke it for that authorizer's ARN."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiomqtt
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from moto.awslambda.models import lambda_backends
import pytest

from devtools.iot_emulator import IotEmulator

from .conftest import Deploy, mqtt_client


async def _connects(emulator: IotEmulator, headers: dict[str, str]) -> bool:
    try:
        async with mqtt_client(emulator, identifier="device1", websocket_headers=headers):
            return True
    except aiomqtt.MqttError:
        return False


def _unnamed(headers: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key != "X-Amz-CustomAuthorizer-Name"}


async def _call(emulator: IotEmulator, action: Callable[[Any], Any]) -> Any:
    return await asyncio.get_running_loop().run_in_executor(
        None, lambda: action(emulator.client("iot"))
    )


async def test_without_a_name_only_the_default_authorizer_runs(
    iot_emulator: IotEmulator, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """With one authorizer and no default, a connection that names none is refused; once that
    authorizer is the default, the same connection is accepted."""
    authorizer = await deploy(iot_emulator)("only")
    headers = _unnamed(authorizer.headers())
    assert not await _connects(iot_emulator, headers)
    assert iot_emulator.refusals == [("upgrade", "no authorizer named and no default authorizer")]
    assert authorizer.events() == []

    await _call(iot_emulator, lambda iot: iot.set_default_authorizer(authorizerName="only"))
    assert await _connects(iot_emulator, headers)
    assert len(authorizer.events()) == 1


async def test_default_authorizer_api(
    iot_emulator: IotEmulator, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """Set, describe and clear the default; a missing one is not found; the default cannot be
    deleted; a cleared default refuses unnamed connections again."""
    authorizer = await deploy(iot_emulator)("first", default=True)
    described = await _call(
        iot_emulator, lambda iot: iot.describe_default_authorizer()["authorizerDescription"]
    )
    assert described["authorizerName"] == "first"
    assert described["authorizerArn"] == authorizer.arn
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        await _call(iot_emulator, lambda iot: iot.set_default_authorizer(authorizerName="missing"))
    await _call(
        iot_emulator, lambda iot: iot.update_authorizer(authorizerName="first", status="INACTIVE")
    )
    with pytest.raises(ClientError, match="DeleteConflictException"):
        await _call(iot_emulator, lambda iot: iot.delete_authorizer(authorizerName="first"))
    await _call(
        iot_emulator, lambda iot: iot.update_authorizer(authorizerName="first", status="ACTIVE")
    )
    assert await _connects(iot_emulator, _unnamed(authorizer.headers()))
    await _call(iot_emulator, lambda iot: iot.clear_default_authorizer())
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        await _call(iot_emulator, lambda iot: iot.describe_default_authorizer())
    assert not await _connects(iot_emulator, _unnamed(authorizer.headers()))


async def test_an_inactive_authorizer_refuses(
    iot_emulator: IotEmulator, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """Named or default, an INACTIVE authorizer is never invoked."""
    authorizer = await deploy(iot_emulator)("sleeping", status="INACTIVE", default=True)
    assert not await _connects(iot_emulator, authorizer.headers())
    assert not await _connects(iot_emulator, _unnamed(authorizer.headers()))
    assert iot_emulator.refusals == [("upgrade", "the authorizer is not ACTIVE")] * 2
    assert authorizer.events() == []


@pytest.mark.parametrize(
    ("permission", "accepted"),
    [("this", True), (None, False), ("other", False), ("service", False)],
    ids=["for-this-authorizer", "none", "for-another-authorizer", "for-another-service"],
)
async def test_the_lambda_must_allow_iot_to_invoke_it_for_this_authorizer(
    iot_emulator: IotEmulator,
    deploy: Callable[[IotEmulator], Deploy],
    permission: str | None,
    accepted: bool,
) -> None:
    """lambda:InvokeFunction for iot.amazonaws.com with the authorizer's ARN as source is checked
    before the function runs: without it the function is never invoked."""
    authorizer = await deploy(iot_emulator)("guarded", permission=permission)
    assert await _connects(iot_emulator, authorizer.headers()) is accepted
    assert len(authorizer.events()) == (1 if accepted else 0)
    if not accepted:
        assert iot_emulator.refusals == [
            ("upgrade", "the function's resource policy does not let AWS IoT invoke it")
        ]


async def test_a_deny_in_the_resource_policy_wins(
    iot_emulator: IotEmulator, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """An explicit Deny statement for AWS IoT beats the Allow."""
    authorizer = await deploy(iot_emulator)("denied")
    function = lambda_backends[iot_emulator.account_id][iot_emulator.region].get_function(
        "denied-function"
    )
    function.policy.statements.append(
        {
            "Sid": "no-iot",
            "Effect": "Deny",
            "Principal": {"Service": "iot.amazonaws.com"},
            "Action": "lambda:*",
            "Resource": function.function_arn,
        }
    )
    assert not await _connects(iot_emulator, authorizer.headers())
    assert authorizer.events() == []


async def test_create_authorizer_validates_signing_keys(iot_emulator: IotEmulator) -> None:
    """With signing enabled a token key name and RSA keys of at least 2,048 bits are required."""

    def pem(key: Any) -> str:
        return str(
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    small = pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    elliptic = pem(ec.generate_private_key(ec.SECP256R1()))
    arn = "arn:aws:lambda:us-east-1:123456789012:function:anything"

    def create(keys: dict[str, str]) -> Callable[[Any], Any]:
        return lambda iot: iot.create_authorizer(
            authorizerName="bad",
            authorizerFunctionArn=arn,
            tokenKeyName="Token",
            tokenSigningPublicKeys=keys,
        )

    for keys in ({"k": small}, {"k": elliptic}, {}, {"k": "not a key"}):
        with pytest.raises(ClientError, match="InvalidRequestException"):
            await _call(iot_emulator, create(keys))
    assert await _call(iot_emulator, lambda iot: iot.list_authorizers()["authorizers"]) == []
