"""moto in-process, with IoT custom authorizers added (devtools/moto_authorizers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from custom_components.konnected_aws.cloud import AwsCredentials, CloudAccount
from devtools import moto_authorizers


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudAccount]:
    """A fresh emulated account; nothing reaches AWS."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    moto_authorizers.install()
    with mock_aws():
        yield CloudAccount(AwsCredentials("AKIATESTTESTTEST", "secret", "eu-west-1"), sleep=lambda _: None)
