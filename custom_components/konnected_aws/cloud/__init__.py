"""The user's AWS account: setup of the authorizer's resources and the device registry.

Plain boto3, no Home Assistant imports; every call blocks, so Home Assistant runs them in
its executor.
"""

from __future__ import annotations

from .account import AccountResources, AwsCredentials, CloudAccount, ResourceNames, SetupStep
from .registry import DeviceCredentials, DeviceRecord, DeviceRegistry

__all__ = [
    "AccountResources",
    "AwsCredentials",
    "CloudAccount",
    "DeviceCredentials",
    "DeviceRecord",
    "DeviceRegistry",
    "ResourceNames",
    "SetupStep",
]
