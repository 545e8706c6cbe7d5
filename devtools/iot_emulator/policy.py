"""IAM-style evaluation of the policy documents a custom authorizer returns.

Covers what AWS IoT policies use here: Allow/Deny statements (an explicit Deny wins),
Action and Resource as a string or a list, `*` and `?` wildcards in both.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1024)
def _pattern(glob: str) -> re.Pattern[str]:
    escaped = re.escape(glob).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"^{escaped}$", re.IGNORECASE if glob.startswith("iot:") else 0)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise ValueError("Action and Resource must be a string or a list of strings")


@dataclass(frozen=True, slots=True)
class Statement:
    """One parsed statement."""

    allow: bool
    actions: tuple[str, ...]
    resources: tuple[str, ...]

    def matches(self, action: str, resource: str) -> bool:
        """True when the statement speaks about this action on this resource."""
        return any(_pattern(glob).match(action) for glob in self.actions) and any(
            _pattern(glob).match(resource) for glob in self.resources
        )


class Policy:
    """The union of a principal's policy documents."""

    def __init__(self, documents: list[str]) -> None:
        """Parse the JSON documents; raises ValueError for anything malformed."""
        statements: list[Statement] = []
        for document in documents:
            parsed = json.loads(document)
            raw = parsed.get("Statement") if isinstance(parsed, dict) else None
            if isinstance(raw, dict):
                raw = [raw]
            if not isinstance(raw, list):
                raise ValueError("A policy document needs a Statement")
            for item in raw:
                effect = item.get("Effect") if isinstance(item, dict) else None
                if effect not in ("Allow", "Deny"):
                    raise ValueError("Effect must be Allow or Deny")
                statements.append(
                    Statement(
                        allow=effect == "Allow",
                        actions=tuple(_as_list(item.get("Action"))),
                        resources=tuple(_as_list(item.get("Resource"))),
                    )
                )
        self.statements = tuple(statements)

    def allows(self, action: str, resource: str) -> bool:
        """Explicit Deny wins, then any Allow; default deny."""
        matching = [statement for statement in self.statements if statement.matches(action, resource)]
        return bool(matching) and all(statement.allow for statement in matching)
