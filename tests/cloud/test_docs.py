"""docs/aws.md prints the policies the code applies: a changed policy needs a changed page."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

import pytest

from custom_components.konnected_aws.cloud import ResourceNames
from custom_components.konnected_aws.cloud.policies import (
    PLACEHOLDER_IDENTITY,
    authorizer_role_policy,
    runtime_policy,
    setup_policy,
)

DOC = Path(__file__).parents[2] / "docs" / "aws.md"
# `<!-- policy: NAME -->` right before a ```json block marks a policy the code generates.
MARKED_BLOCK = re.compile(r"<!-- policy: ([a-z-]+) -->\n```json\n(.*?)\n```", re.DOTALL)
GENERATED = {
    "setup": setup_policy,
    "runtime": runtime_policy,
    "authorizer-role": authorizer_role_policy,
}


def documented() -> dict[str, Any]:
    """The marked policy blocks of docs/aws.md, parsed."""
    blocks = MARKED_BLOCK.findall(DOC.read_text())
    names = [name for name, _ in blocks]
    assert len(names) == len(set(names)), "a policy is documented twice"
    return {name: json.loads(text) for name, text in blocks}


def test_every_generated_policy_is_documented() -> None:
    """No policy missing from the page, none on it the code does not make."""
    assert set(documented()) == set(GENERATED)


@pytest.mark.parametrize("name", GENERATED)
def test_documented_policy_is_the_code_s(name: str) -> None:
    """The page shows exactly what `ensure` applies (for REGION/ACCOUNT placeholders)."""
    assert documented()[name] == GENERATED[name](ResourceNames(), PLACEHOLDER_IDENTITY)
