"""Shared fixtures: custom integrations enabled in every Home Assistant test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let the test Home Assistant load custom_components/konnected_aws."""
