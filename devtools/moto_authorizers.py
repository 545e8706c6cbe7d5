"""IoT custom authorizers for moto, which (5.2.5) does not implement them.

Adds CreateAuthorizer, DescribeAuthorizer, UpdateAuthorizer, DeleteAuthorizer,
ListAuthorizers and the account's default authorizer (SetDefaultAuthorizer,
DescribeDefaultAuthorizer, ClearDefaultAuthorizer) to moto's IoT responses, with AWS's
validation that matters here (unique names, ACTIVE authorizers cannot be deleted, at most two
RSA signing keys of at least 2,048 bits, required when signing is enabled, the default must
exist). Works for in-process `mock_aws` and for moto's server
alike; `install()` is idempotent.

The default authorizer is what AWS IoT uses "if a websocket connection is made without
specifying an authorizer" (SetDefaultAuthorizer, AWS IoT API reference). Deleting the default
authorizer is refused with DeleteConflictException (an error the API lists for
DeleteAuthorizer; AWS does not say when it is raised, so this is the stricter reading).
"""

from __future__ import annotations

import json
import time
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.core.responses import ActionResult, EmptyResult
from moto.iot.exceptions import (
    DeleteConflictException,
    InvalidRequestException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from moto.iot.models import IoTBackend, iot_backends
from moto.iot.responses import IoTResponse

MAX_SIGNING_KEYS = 2
MIN_KEY_BITS = 2048


def _store(backend: IoTBackend) -> dict[str, dict[str, Any]]:
    store: dict[str, dict[str, Any]] | None = getattr(backend, "konnected_authorizers", None)
    if store is None:
        store = {}
        backend.konnected_authorizers = store  # type: ignore[attr-defined]
    return store


def authorizers(account_id: str, region: str) -> dict[str, dict[str, Any]]:
    """Return the authorizers stored for an account and region (read by the IoT emulation)."""
    return _store(iot_backends[account_id][region])


def _set_default_name(backend: IoTBackend, name: str | None) -> None:
    backend.konnected_default_authorizer = name  # type: ignore[attr-defined]


def _default_name(backend: IoTBackend) -> str | None:
    name = getattr(backend, "konnected_default_authorizer", None)
    return name if isinstance(name, str) else None


def default_authorizer(account_id: str, region: str) -> str | None:
    """Return the name set by SetDefaultAuthorizer for an account and region, or None."""
    return _default_name(iot_backends[account_id][region])


def _check_keys(keys: Any) -> None:
    """Check the token signing keys.

    At most two keys, each an RSA public key of at least 2,048 bits (AWS IoT developer guide,
    config-custom-auth.html: "Its minimum length is 2,048 bits").
    """
    if keys is None:
        return
    if len(keys) > MAX_SIGNING_KEYS:
        raise InvalidRequestException("An authorizer holds at most 2 token signing public keys")
    for pem in keys.values():
        try:
            key = serialization.load_pem_public_key(str(pem).encode())
        except ValueError as err:
            raise InvalidRequestException(
                "A token signing public key is not a PEM public key"
            ) from err
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_KEY_BITS:
            raise InvalidRequestException(
                "A token signing public key must be RSA of at least 2048 bits"
            )


def _create_authorizer(self: IoTResponse) -> ActionResult:
    name = self._get_param("authorizerName")
    store = _store(self.iot_backend)
    if name in store:
        raise ResourceAlreadyExistsException(f"Authorizer {name} already exists", name, "")
    keys = self._get_param("tokenSigningPublicKeys") or {}
    _check_keys(keys)
    signing_disabled = bool(self._get_param("signingDisabled") or False)
    if not signing_disabled and (not keys or not self._get_param("tokenKeyName")):
        # "Values for the tokenKeyName and tokenSigningPublicKeys parameters are ... required
        # values if signing is enabled" (config-custom-auth.html).
        raise InvalidRequestException(
            "tokenKeyName and tokenSigningPublicKeys are required when signing is enabled"
        )
    arn = f"arn:aws:iot:{self.region}:{self.current_account}:authorizer/{name}"
    now = time.time()
    store[name] = {
        "authorizerName": name,
        "authorizerArn": arn,
        "authorizerFunctionArn": self._get_param("authorizerFunctionArn"),
        "tokenKeyName": self._get_param("tokenKeyName"),
        "tokenSigningPublicKeys": dict(keys),
        "status": self._get_param("status") or "ACTIVE",
        "signingDisabled": signing_disabled,
        "enableCachingForHttp": bool(self._get_param("enableCachingForHttp") or False),
        "creationDate": now,
        "lastModifiedDate": now,
    }
    return ActionResult({"authorizerName": name, "authorizerArn": arn})


def _get(self: IoTResponse) -> dict[str, Any]:
    name = self._get_param("authorizerName")
    description = _store(self.iot_backend).get(name)
    if description is None:
        raise ResourceNotFoundException(f"Authorizer {name} not found")
    return description


def _describe_authorizer(self: IoTResponse) -> ActionResult:
    return ActionResult({"authorizerDescription": json.loads(json.dumps(_get(self)))})


def _update_authorizer(self: IoTResponse) -> ActionResult:
    description = _get(self)
    for field in ("authorizerFunctionArn", "tokenKeyName", "status", "enableCachingForHttp"):
        value = self._get_param(field)
        if value is not None:
            description[field] = value
    keys = self._get_param("tokenSigningPublicKeys")
    if keys is not None:
        _check_keys(keys)
        description["tokenSigningPublicKeys"] = dict(keys)
    description["lastModifiedDate"] = time.time()
    return ActionResult(
        {
            "authorizerName": description["authorizerName"],
            "authorizerArn": description["authorizerArn"],
        }
    )


def _delete_authorizer(self: IoTResponse) -> EmptyResult:
    description = _get(self)
    if description["status"] == "ACTIVE":
        raise InvalidRequestException(
            "An ACTIVE authorizer cannot be deleted; set it INACTIVE first"
        )
    if _default_name(self.iot_backend) == description["authorizerName"]:
        raise DeleteConflictException(
            "The default authorizer cannot be deleted; clear the default first"
        )
    del _store(self.iot_backend)[description["authorizerName"]]
    return EmptyResult()


def _set_default_authorizer(self: IoTResponse) -> ActionResult:
    description = _get(self)
    _set_default_name(self.iot_backend, description["authorizerName"])
    return ActionResult(
        {
            "authorizerName": description["authorizerName"],
            "authorizerArn": description["authorizerArn"],
        }
    )


def _the_default(self: IoTResponse) -> dict[str, Any]:
    name = _default_name(self.iot_backend)
    description = _store(self.iot_backend).get(name or "")
    if description is None:
        raise ResourceNotFoundException("No default authorizer is set")
    return description


def _describe_default_authorizer(self: IoTResponse) -> ActionResult:
    return ActionResult({"authorizerDescription": json.loads(json.dumps(_the_default(self)))})


def _clear_default_authorizer(self: IoTResponse) -> EmptyResult:
    _the_default(self)
    _set_default_name(self.iot_backend, None)
    return EmptyResult()


def _list_authorizers(self: IoTResponse) -> ActionResult:
    items = [
        {"authorizerName": item["authorizerName"], "authorizerArn": item["authorizerArn"]}
        for item in _store(self.iot_backend).values()
    ]
    return ActionResult({"authorizers": items})


def install() -> None:
    """Teach moto's IoT responses the authorizer operations."""
    IoTResponse.create_authorizer = _create_authorizer  # type: ignore[attr-defined]
    IoTResponse.describe_authorizer = _describe_authorizer  # type: ignore[attr-defined]
    IoTResponse.update_authorizer = _update_authorizer  # type: ignore[attr-defined]
    IoTResponse.delete_authorizer = _delete_authorizer  # type: ignore[attr-defined]
    IoTResponse.list_authorizers = _list_authorizers  # type: ignore[attr-defined]
    IoTResponse.set_default_authorizer = _set_default_authorizer  # type: ignore[attr-defined]
    IoTResponse.describe_default_authorizer = _describe_default_authorizer  # type: ignore[attr-defined]
    IoTResponse.clear_default_authorizer = _clear_default_authorizer  # type: ignore[attr-defined]
