"""Reuse the test fixtures: the AWS IoT emulation, simulated boards, a real HA test instance."""

from tests.conftest import auto_enable_custom_integrations, iot_emulator, make_board  # noqa: F401
