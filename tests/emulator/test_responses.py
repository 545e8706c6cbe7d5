"""The authorizer's response is validated like AWS IoT does, and its policy is what the connection
may do (with policy variables)."""

from __future__ import annotations

from collections.abc import Callable
import contextlib
import json
from typing import Any

import aiomqtt

from devtools.iot_emulator import IotEmulator

from .conftest import ALLOW_ALL, Deploy, mqtt_client, response, wait_for


def _padded(length: int) -> str:
    """A valid policy document (JSON text) of exactly `length` characters."""
    document = json.dumps(ALLOW_ALL)
    return document[:-1] + " " * (length - len(document)) + "}"


def _padded_object(length: int) -> dict[str, Any]:
    """A policy document object whose JSON text (default separators) has `length` characters."""
    document: dict[str, Any] = {**ALLOW_ALL, "Id": ""}
    document["Id"] = "x" * (length - len(json.dumps(document)))
    return document


VALID: dict[str, Any] = {
    "policy as JSON string": response(json.dumps(ALLOW_ALL)),
    "policy as object": response(ALLOW_ALL),
    "ten documents": response(*[json.dumps(ALLOW_ALL)] * 10),
    "2048 characters": response(_padded(2048)),
    "2048 characters as object": response(_padded_object(2048)),
    "principal of 128": response(principal="A1" * 64),
    "durations at the limits": response(disconnectAfterInSeconds=300, refreshAfterInSeconds=86400),
}
INVALID: dict[str, tuple[Any, str]] = {
    "not authenticated": (response(isAuthenticated=False), "not authenticated"),
    "isAuthenticated as string": (response(isAuthenticated="true"), "not authenticated"),
    "not an object": (["isAuthenticated", True], "the response is not a JSON object"),
    "eleven documents": (
        response(*[json.dumps(ALLOW_ALL)] * 11),
        "policyDocuments is not a list of at most 10",
    ),
    "2049 characters": (
        response(_padded(2049)),
        "a policy document is longer than 2048 characters",
    ),
    "2049 characters as object": (
        response(_padded_object(2049)),
        "a policy document is longer than 2048 characters",
    ),
    "principal with a dash": (
        response(principal="board-1"),
        "principalId is not 1-128 alphanumerics",
    ),
    "principal of 129": (response(principal="A" * 129), "principalId is not 1-128 alphanumerics"),
    "empty principal": (response(principal=""), "principalId is not 1-128 alphanumerics"),
    "non-ASCII principal": (
        response(principal="b\u00f6rd"),
        "principalId is not 1-128 alphanumerics",
    ),
    "disconnect 299": (response(disconnectAfterInSeconds=299), "a duration outside 300-86400 s"),
    "refresh 86401": (response(refreshAfterInSeconds=86401), "a duration outside 300-86400 s"),
    "duration as string": (
        response(disconnectAfterInSeconds="3600"),
        "a duration outside 300-86400 s",
    ),
    "refresh missing": (
        {k: v for k, v in response().items() if k != "refreshAfterInSeconds"},
        "a duration outside 300-86400 s",
    ),
    "policy not JSON": (response("{not json"), "an invalid policy document"),
    "policy without Statement": (response({"Version": "2012-10-17"}), "an invalid policy document"),
    "policy with NotAction": (
        response(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "NotAction": "iot:Publish", "Resource": "*"}],
            }
        ),
        "an invalid policy document",
    ),
    "document neither string nor object": (
        response(42),
        "a policy document is neither a JSON string nor an object",
    ),
}


async def _outcome(emulator: IotEmulator, authorizer_headers: dict[str, str]) -> bool:
    try:
        async with mqtt_client(
            emulator, identifier="device1", websocket_headers=authorizer_headers
        ):
            return True
    except aiomqtt.MqttError:
        return False


async def test_valid_responses_are_accepted(
    iot_emulator: IotEmulator, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """Strings and objects, up to 10 documents of up to 2,048 characters, the limits themselves."""
    for index, (case, answer) in enumerate(VALID.items()):
        authorizer = await deploy(iot_emulator)(f"valid{index}", answer=answer)
        assert await _outcome(iot_emulator, authorizer.headers()), case
    assert iot_emulator.refusals == []


async def test_invalid_responses_refuse_the_connection(
    iot_emulator: IotEmulator, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """Each broken rule refuses the connection, for that reason."""
    for index, (case, (answer, reason)) in enumerate(INVALID.items()):
        authorizer = await deploy(iot_emulator)(f"invalid{index}", answer=answer)
        assert not await _outcome(iot_emulator, authorizer.headers()), case
        assert len(authorizer.events()) == 1, case
        stage, why = iot_emulator.refusals[-1]
        assert (stage, why.split(" (")[0]) == ("upgrade", reason), case


async def test_lambda_errors_and_timeouts_refuse(
    iot_emulator: IotEmulator, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """A function that raises, or runs past its timeout, refuses the connection."""
    failing = await deploy(iot_emulator)("failing", mode="raise")
    assert not await _outcome(iot_emulator, failing.headers())
    assert iot_emulator.refusals[-1] == (
        "upgrade",
        "the authorizer function failed: The function raised RuntimeError",
    )
    slow = await deploy(iot_emulator)("slow", mode="sleep", sleep=3.0, timeout=1)
    assert not await _outcome(iot_emulator, slow.headers())
    assert iot_emulator.refusals[-1] == (
        "upgrade",
        "the authorizer function failed: Task timed out after 1.00 seconds",
    )
    # The runtime that was killed for the timeout is replaced: the next connection works.
    working = await deploy(iot_emulator)("working")
    assert await _outcome(iot_emulator, working.headers())


POLICY_WITH_VARIABLES = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "iot:Connect",
            "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:ClientId}",
        },
        {
            "Effect": "Allow",
            "Action": ["iot:Publish", "iot:Receive"],
            "Resource": "arn:aws:iot:us-east-1:123456789012:topic/things/${iot:ClientId}/*",
        },
        {
            "Effect": "Allow",
            "Action": "iot:Subscribe",
            "Resource": "arn:aws:iot:us-east-1:123456789012:topicfilter/things/${iot:ClientId}/*",
        },
        {
            "Effect": "Deny",
            "Action": "iot:Connect",
            "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:ClientId}",
            "Condition": {"StringEquals": {"iot:ClientId": "banned"}},
        },
    ],
}


async def test_policy_variables(
    iot_emulator: IotEmulator, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """`${iot:ClientId}` is the connection's client id, in resources and conditions."""
    authorizer = await deploy(iot_emulator)("scoped", answer=response(POLICY_WITH_VARIABLES))
    headers = authorizer.headers()
    reached: list[str] = []
    # The drop itself is asserted below from the emulator's side; aiomqtt 2.5 no longer re-raises
    # it when the context is left, older versions do.
    with contextlib.suppress(aiomqtt.MqttError):
        async with mqtt_client(
            iot_emulator, identifier="dev1", websocket_headers=headers
        ) as client:
            await client.subscribe("things/dev1/commands")
            await client.publish("things/dev1/data", b"ok", qos=1)
            assert "dev1" in iot_emulator.by_client
            reached.append("allowed")
            # Another client's topic: denied, and the connection is dropped (AUTH_ERROR).
            await client.publish("things/dev2/data", b"not mine", qos=1)
            await wait_for(lambda: "dev1" not in iot_emulator.by_client)
            reached.append("dropped")
    assert reached == ["allowed", "dropped"]
    assert iot_emulator.denials[-1] == ("publish", "tester", "things/dev2/data")
    try:
        async with mqtt_client(iot_emulator, identifier="banned", websocket_headers=headers):
            raise AssertionError("the Deny condition on iot:ClientId did not apply")
    except aiomqtt.MqttError:
        pass
    assert iot_emulator.denials[-1] == ("connect", "tester", "banned")


async def test_variables_that_custom_authentication_cannot_resolve(
    iot_emulator: IotEmulator, deploy: Callable[[IotEmulator], Deploy]
) -> None:
    """Thing variables need a thing attached to a certificate: for a custom-authorizer principal
    they have no value and their statement never matches. Without Version 2012-10-17, `${...}` is
    literal text."""
    thing = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": (
                    "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}"
                ),
            }
        ],
    }
    old_version = {
        "Version": "2008-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:ClientId}",
            }
        ],
    }
    for index, document in enumerate((thing, old_version)):
        authorizer = await deploy(iot_emulator)(f"unresolved{index}", answer=response(document))
        assert not await _outcome(iot_emulator, authorizer.headers())
        assert iot_emulator.denials[-1] == ("connect", "tester", "device1")
