"""Constants shared by the integration's modules."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "konnected_aws"
LOGGER = logging.getLogger(__package__)

# What the firmware answers SSDP searches with (docs/protocol.md).
SSDP_SEARCH_TARGET: Final = "urn:schemas-konnected-io:device:Security:1"

# Config entry data (the AWS account).
CONF_ACCESS_KEY_ID: Final = "access_key_id"
CONF_SECRET_ACCESS_KEY: Final = "secret_access_key"
CONF_REGION: Final = "region"
CONF_ACCOUNT_ID: Final = "account_id"
CONF_IOT_ENDPOINT: Final = "iot_endpoint"
CONF_AUTHORIZER_NAME: Final = "authorizer_name"
CONF_BRIDGE_ID: Final = "bridge_id"
CONF_BRIDGE_TOKEN: Final = "bridge_token"
CONF_ADVANCED: Final = "advanced"
CONF_AWS_ENDPOINT_URL: Final = "aws_endpoint_url"
CONF_IOT_URL: Final = "iot_url"
# Which kind of key the form got: setup keys (used once, never stored) or run-time keys.
CONF_KEY_KIND: Final = "key_kind"
KEY_KIND_SETUP: Final = "setup"
KEY_KIND_RUNTIME: Final = "runtime"
# Where the stored run-time key came from: our setup (its IAM user) or the user's CloudFormation stack.
CONF_KEY_SOURCE: Final = "key_source"
CONF_RUNTIME_USER_ARN: Final = "runtime_user_arn"
DEFAULT_AUTHORIZER_NAME: Final = "konnected-aws"

# Subentry data (one board).
SUBENTRY_BOARD: Final = "board"
CONF_BOARD_ID: Final = "board_id"
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_MODEL: Final = "model"
CONF_SW_VERSION: Final = "sw_version"
CONF_HW_VERSION: Final = "hw_version"
CONF_ZONES: Final = "zones"
CONF_BLINK: Final = "blink"

# Development and test defaults for the advanced fields (scripts/develop sets them).
ENV_AWS_ENDPOINT_URL: Final = "KONNECTED_AWS_ENDPOINT_URL"
ENV_IOT_URL: Final = "KONNECTED_AWS_IOT_URL"

# The firmware sends a heartbeat every five minutes; two missed ones mean it is gone.
HEARTBEAT_INTERVAL: Final = timedelta(minutes=5)
BOARD_OFFLINE_AFTER: Final = timedelta(minutes=11)
BRIDGE_CONNECT_TIMEOUT: Final = 20.0
# A provisioned board reboots (~5 s) and connects; give it a generous minute.
BOARD_ONLINE_TIMEOUT: Final = 90.0
