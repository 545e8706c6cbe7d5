"""The user's AWS account: setup of the authorizer's resources and the device registry.

Plain boto3, no Home Assistant imports; every call blocks, so Home Assistant runs them in
its executor. Errors are the classes in `errors`; none carries a secret.
"""

from __future__ import annotations

from .account import (
    AccountResources,
    AwsCredentials,
    CloudAccount,
    ProgressCallback,
    SetupStep,
    StepState,
    progress_fraction,
)
from .policies import AccountIdentity, PolicyDocument, ResourceNames
from .registry import DeviceCredentials, DeviceKind, DeviceRecord, DeviceRegistry

__all__ = [
    "AccountIdentity",
    "AccountResources",
    "AwsCredentials",
    "CloudAccount",
    "DeviceCredentials",
    "DeviceKind",
    "DeviceRecord",
    "DeviceRegistry",
    "PolicyDocument",
    "ProgressCallback",
    "ResourceNames",
    "SetupStep",
    "StepState",
    "progress_fraction",
]
