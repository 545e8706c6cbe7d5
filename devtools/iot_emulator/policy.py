"""AWS IoT policy evaluation for the documents a custom authorizer returns.

What AWS documents and this module follows (sources in docs/emulation.md):
- A document is a JSON object (or a JSON string holding one) with `Statement`: one statement or
  a list; each has `Effect` Allow|Deny, `Action` and `Resource` as a string or a list, and an
  optional `Condition`. An explicit Deny wins, then any Allow; nothing matching means deny.
- `*` matches any characters and `?` one character, in actions (case-insensitively) and in
  resources (case-sensitively); `+` and `#` are literal.
- Policy variables (only with `"Version": "2012-10-17"`, as in IAM): `${iot:ClientId}`, the
  special characters `${*}`, `${?}`, `${$}`. A substituted value is matched literally. A
  variable without a value (the thing and certificate variables: a custom-authorizer principal
  is never attached to a thing or certificate) makes its statement not match.
- Conditions: the String*, Arn*, Bool and IpAddress operators (with `IfExists`) and `Null`, on
  `iot:ClientId` and `aws:SourceIp`. What cannot be evaluated (an unknown operator or key) is
  read the strict way: an Allow does not apply, a Deny does.
Anything else (NotAction, NotResource, a malformed statement) makes the document invalid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
import ipaddress
import json
import re
from typing import Any, Final

VARIABLES_VERSION: Final = "2012-10-17"
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}
_ALLOWED_KEYS: Final = frozenset({"Sid", "Effect", "Action", "Resource", "Condition"})

type Document = str | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What policy variables and condition keys resolve to (keys are case-insensitive)."""

    values: Mapping[str, str]

    @classmethod
    def of(cls, **values: str) -> RequestContext:
        """`RequestContext.of(**{"iot:ClientId": "x"})` style construction."""
        return cls({key.lower(): value for key, value in values.items()})

    def get(self, key: str) -> str | None:
        """Return the value of a key, None when the request has none."""
        return self.values.get(key.lower())


def _glob_body(text: str) -> str:
    return re.escape(text).replace(r"\*", ".*").replace(r"\?", ".")


def _glob(text: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    return _compiled(_glob_body(text), ignore_case)


def glob_matches(glob: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard matching: `*` any characters, `?` one."""
    return bool(_glob(glob, ignore_case=ignore_case).match(value))


@lru_cache(maxsize=2048)
def _compiled(body: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def resolved_pattern(
    template: str, context: RequestContext, *, variables: bool, ignore_case: bool = False
) -> re.Pattern[str] | None:
    """Return a policy string as a regex, or None when a variable has no value.

    Wildcards from the policy, variables as literals.
    """
    if not variables:
        return _glob(template, ignore_case=ignore_case)
    parts: list[str] = []
    position = 0
    for match in _VARIABLE.finditer(template):
        parts.append(_glob_body(template[position : match.start()]))
        name = match.group(1).strip()
        value = _SPECIAL.get(name) if name in _SPECIAL else context.get(name)
        if value is None:
            return None
        parts.append(re.escape(value))
        position = match.end()
    parts.append(_glob_body(template[position:]))
    return _compiled("".join(parts), ignore_case)


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ValueError(f"{what} must be a string or a non-empty list of strings")


def _condition_values(value: Any) -> tuple[str, ...]:
    if isinstance(value, bool):
        return ("true" if value else "false",)
    if isinstance(value, (str, int)):
        return (str(value),)
    if (
        isinstance(value, list)
        and value
        and all(isinstance(item, (str, bool, int)) for item in value)
    ):
        return tuple(_condition_values(item)[0] for item in value)
    raise ValueError("A condition value must be a string, a boolean or a list of them")


def _ip_in(address: str, network: str) -> bool | None:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Condition:
    """One `operator: {key: values}` test."""

    operator: str
    key: str
    values: tuple[str, ...]

    def evaluate(self, context: RequestContext, *, variables: bool) -> bool | None:
        """Return True or False; None when it cannot be evaluated (unknown operator or key)."""
        operator = self.operator
        if operator == "Null":
            return (context.get(self.key) is None) == (self.values[0].lower() == "true")
        if_exists = operator.endswith("IfExists")
        operator = operator.removesuffix("IfExists")
        actual = context.get(self.key)
        if actual is None:
            return True if if_exists else None
        negated = "Not" in operator
        base = operator.replace("Not", "", 1) if negated else operator
        matched = self._matches(base, actual, context, variables=variables)
        if matched is None:
            return None
        return not matched if negated else matched

    def _matches(
        self, base: str, actual: str, context: RequestContext, *, variables: bool
    ) -> bool | None:
        results: list[bool] = []
        for expected in self.values:
            if base in ("StringEquals", "ArnEquals", "StringEqualsIgnoreCase"):
                # Equality: the policy's wildcards are literal characters here.
                literal = _substituted(expected, context) if variables else expected
                if base == "StringEqualsIgnoreCase":
                    results.append(literal is not None and actual.lower() == literal.lower())
                else:
                    results.append(actual == literal)
            elif base in ("StringLike", "ArnLike"):
                pattern = resolved_pattern(expected, context, variables=variables)
                results.append(pattern is not None and bool(pattern.match(actual)))
            elif base == "Bool":
                results.append(actual.lower() == expected.lower())
            elif base == "IpAddress":
                inside = _ip_in(actual, expected)
                if inside is None:
                    return None
                results.append(inside)
            else:
                return None
        return any(results)


def _substituted(text: str, context: RequestContext) -> str | None:
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1).strip()
        found = _SPECIAL.get(name) if name in _SPECIAL else context.get(name)
        if found is None:
            missing = True
            return ""
        return found

    result = _VARIABLE.sub(value, text)
    return None if missing else result


def parse_conditions(raw: Any) -> tuple[Condition, ...]:
    """`{"StringEquals": {"key": "value"}, ...}` as conditions (all must hold)."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ValueError("Condition must be an object")  # noqa: TRY004 - a malformed policy is a ValueError for the callers, as bad JSON is
    conditions: list[Condition] = []
    for operator, tests in raw.items():
        if not isinstance(tests, dict) or not tests:
            raise ValueError("Each condition operator needs an object of keys")
        conditions.extend(
            Condition(str(operator), str(key), _condition_values(values))
            for key, values in tests.items()
        )
    return tuple(conditions)


def conditions_hold(
    conditions: Sequence[Condition], context: RequestContext, *, allow: bool, variables: bool
) -> bool:
    """All conditions true; what cannot be evaluated counts against an Allow and for a Deny."""
    for condition in conditions:
        result = condition.evaluate(context, variables=variables)
        if result is None:
            result = not allow
        if not result:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Statement:
    """One parsed statement."""

    allow: bool
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[Condition, ...]
    variables: bool

    def matches(self, action: str, resource: str, context: RequestContext) -> bool:
        """Tell whether the statement speaks about this action on this resource in this request."""
        if not any(_glob(glob, ignore_case=True).match(action) for glob in self.actions):
            return False
        if not any(
            (pattern := resolved_pattern(glob, context, variables=self.variables)) is not None
            and pattern.match(resource)
            for glob in self.resources
        ):
            return False
        return conditions_hold(self.conditions, context, allow=self.allow, variables=self.variables)


def _parse_statement(item: Any, variables: bool) -> Statement:
    if not isinstance(item, dict):
        raise ValueError("A statement must be an object")  # noqa: TRY004 - a malformed policy is a ValueError for the callers, as bad JSON is
    unknown = set(item) - _ALLOWED_KEYS
    if unknown:
        raise ValueError(f"Unsupported statement elements: {sorted(unknown)}")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise ValueError("Effect must be Allow or Deny")
    return Statement(
        allow=effect == "Allow",
        actions=_strings(item.get("Action"), "Action"),
        resources=_strings(item.get("Resource"), "Resource"),
        conditions=parse_conditions(item.get("Condition")),
        variables=variables,
    )


def parse_document(document: Document) -> list[Statement]:
    """Return the statements of one document (a JSON string or an object); ValueError if malformed."""
    parsed = json.loads(document) if isinstance(document, str) else document
    if not isinstance(parsed, Mapping):
        raise ValueError("A policy document must be a JSON object")  # noqa: TRY004 - a malformed policy is a ValueError for the callers, as bad JSON is
    variables = parsed.get("Version") == VARIABLES_VERSION
    raw = parsed.get("Statement")
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ValueError("A policy document needs a Statement")
    return [_parse_statement(item, variables) for item in raw]


class Policy:
    """The union of a principal's policy documents."""

    def __init__(self, documents: Sequence[Document]) -> None:
        """Parse the documents; raises ValueError for anything malformed."""
        self.statements = tuple(
            statement for document in documents for statement in parse_document(document)
        )

    def allows(self, action: str, resource: str, context: RequestContext) -> bool:
        """Explicit Deny wins, then any Allow; default deny."""
        matching = [
            statement
            for statement in self.statements
            if statement.matches(action, resource, context)
        ]
        return bool(matching) and all(statement.allow for statement in matching)
