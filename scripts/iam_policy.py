"""IAM's policy evaluation for one account: Allow/Deny, wildcards, Not*, the conditions.

``scripts/iam_coverage.py`` asks, for each call the test suite recorded, whether the
policies Terraform renders let the principal make it. The rules implemented here are the
ones AWS documents in "Policy evaluation logic" and "IAM JSON policy elements":

- an explicit ``Deny`` in any applicable policy wins; otherwise a request is allowed when an
  identity policy of the principal or a resource policy naming it allows it (one account,
  no permissions boundary, no SCP); otherwise it is implicitly denied;
- ``Action``/``NotAction`` match case-insensitively, with ``*`` and ``?`` wildcards;
- ``Resource``/``NotResource`` match case-sensitively, field by field of the ARN (a
  wildcard never spans the colons of the first five fields);
- ``Principal``/``NotPrincipal`` in resource policies: ``*``, ``{"AWS": ...}`` (an ARN or an
  account) and ``{"Service": ...}``;
- ``Condition``: every operator of a block and every key of an operator must match, any one
  value of a key may; keys are case-insensitive; ``...IfExists``, ``ForAnyValue:`` and
  ``ForAllValues:``; a key missing from the request fails a positive operator and passes
  a negated one (``StringNotEquals``, ``ArnNotLike``...). Operators not implemented here
  raise :class:`UnsupportedPolicyError` rather than being guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final


class UnsupportedPolicyError(Exception):
    """A policy uses an element or a condition operator this evaluator does not implement."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes a request: an IAM role (``kind="AWS"``), a service, or anyone (``"*"``)."""

    kind: str
    identifier: str

    @property
    def account(self) -> str | None:
        """The account of an ``AWS`` principal ARN (``arn:aws:iam::ACCOUNT:role/x``)."""
        parts = self.identifier.split(":")
        return parts[4] if self.kind == "AWS" and len(parts) > 4 else None


@dataclass(frozen=True, slots=True)
class Request:
    """One IAM authorization: who, which action, which resource, with which context keys."""

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a named policy (``where`` says which, for the report)."""

    where: str
    sid: str
    body: Mapping[str, Any]

    @property
    def effect(self) -> str:
        """``Allow`` or ``Deny``."""
        return str(self.body.get("Effect", "Allow"))


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a request and the statements that decided it."""

    allowed: bool
    allowed_by: tuple[Statement, ...] = ()
    denied_by: tuple[Statement, ...] = ()


def statements(where: str, document: Mapping[str, Any]) -> list[Statement]:
    """The statements of a policy document, each labelled ``where`` and its Sid."""
    raw = document.get("Statement", [])
    entries = raw if isinstance(raw, list) else [raw]
    return [
        Statement(where, str(entry.get("Sid") or f"#{index + 1}"), entry)
        for index, entry in enumerate(entries)
    ]


def as_list(value: Any) -> list[Any]:
    """Return a policy element's values as a list (IAM allows a single value or a list)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@lru_cache(maxsize=4096)
def _glob(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """Whether an ``Action`` entry (``dynamodb:Get*``) covers ``action``."""
    return _glob(pattern, ignore_case=True).match(action) is not None


def resource_matches(pattern: str, resource: str) -> bool:
    """Whether a ``Resource`` entry covers ``resource`` (an ARN, or ``*``)."""
    if pattern == "*":
        return True
    pattern_fields = pattern.split(":", 5)
    resource_fields = resource.split(":", 5)
    if len(pattern_fields) != 6 or len(resource_fields) != 6:
        return _glob(pattern, ignore_case=False).match(resource) is not None
    return all(
        _glob(p, ignore_case=False).match(r) is not None
        for p, r in zip(pattern_fields, resource_fields, strict=True)
    )


def _principal_matches(element: Any, principal: Principal) -> bool:
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        raise UnsupportedPolicyError(f"Principal {element!r} is neither '*' nor a map")
    for kind, identifiers in element.items():
        for identifier in as_list(identifiers):
            if kind == "AWS" and principal.kind == "AWS":
                if identifier in ("*", principal.identifier, principal.account):
                    return True
                if identifier == f"arn:aws:iam::{principal.account}:root":
                    return True
            elif kind == principal.kind and identifier in ("*", principal.identifier):
                return True
    return False


_OPERATOR: Final = re.compile(
    r"^(?P<set>ForAnyValue:|ForAllValues:)?(?P<name>[A-Za-z]+?)(?P<if_exists>IfExists)?$"
)
_NEGATED: Final = frozenset(
    {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
)


_MATCHERS: Final[Mapping[str, Callable[[str, str], bool]]] = {
    "StringEquals": lambda expected, actual: actual == expected,
    "StringEqualsIgnoreCase": lambda expected, actual: actual.lower() == expected.lower(),
    "StringLike": lambda expected, actual: (
        _glob(expected, ignore_case=False).match(actual) is not None
    ),
    "ArnEquals": resource_matches,
    "ArnLike": resource_matches,
    "Bool": lambda expected, actual: actual.lower() == expected.lower(),
}


def _value_matches(name: str, expected: str, actual: str) -> bool:
    base = name.replace("Not", "", 1) if name in _NEGATED else name
    matcher = _MATCHERS.get(base)
    if matcher is None:
        raise UnsupportedPolicyError(f"condition operator {name!r} is not implemented")
    return bool(matcher(expected, actual))


def _key_matches(operator: str, name: str, expected: list[str], actual: list[str] | None) -> bool:
    match = _OPERATOR.match(operator)
    if match is None:
        raise UnsupportedPolicyError(f"condition operator {operator!r} is not understood")
    if name == "Null":
        return (actual is None) == (expected[0].lower() == "true")
    if actual is None:
        return bool(match.group("if_exists")) or name in _NEGATED
    negated = name in _NEGATED

    def one(value: str) -> bool:
        hit = any(_value_matches(name, want, value) for want in expected)
        return not hit if negated else hit

    if match.group("set") == "ForAllValues:":
        return all(one(value) for value in actual)
    return any(one(value) for value in actual)


def conditions_match(condition: Mapping[str, Any] | None, context: Mapping[str, Any]) -> bool:
    """Whether a statement's ``Condition`` block holds for the request ``context``."""
    if not condition:
        return True
    lowered = {key.lower(): as_list(value) for key, value in context.items()}
    for operator, tests in condition.items():
        match = _OPERATOR.match(operator)
        if match is None:
            raise UnsupportedPolicyError(f"condition operator {operator!r} is not understood")
        name = match.group("name")
        for key, expected in tests.items():
            actual = lowered.get(key.lower())
            wanted = [str(v) for v in as_list(expected)]
            if not _key_matches(
                operator, name, wanted, [str(v) for v in actual] if actual else None
            ):
                return False
    return True


def _any(patterns: Any, value: str, matcher: Any) -> bool:
    return any(matcher(str(p), value) for p in as_list(patterns))


def _action_applies(body: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in body:
        return not _any(body["NotAction"], action, action_matches)
    return _any(body.get("Action"), action, action_matches)


def _resource_applies(body: Mapping[str, Any], resource: str, *, resource_policy: bool) -> bool:
    if "NotResource" in body:
        return not _any(body["NotResource"], resource, resource_matches)
    if "Resource" in body:
        return _any(body["Resource"], resource, resource_matches)
    return resource_policy  # an identity policy statement without Resource grants nothing


def _principal_applies(body: Mapping[str, Any], principal: Principal) -> bool:
    if "NotPrincipal" in body:
        return not _principal_matches(body["NotPrincipal"], principal)
    return _principal_matches(body.get("Principal"), principal)


def applies(statement: Statement, request: Request, *, resource_policy: bool) -> bool:
    """Whether ``statement`` applies to ``request`` (its effect is then decisive)."""
    body = statement.body
    return (
        _action_applies(body, request.action)
        and _resource_applies(body, request.resource, resource_policy=resource_policy)
        and (not resource_policy or _principal_applies(body, request.principal))
        and conditions_match(body.get("Condition"), request.context)
    )


def evaluate(
    request: Request,
    identity: Iterable[Statement] = (),
    resource: Iterable[Statement] = (),
) -> Decision:
    """Evaluate ``request`` against the principal's identity policies and resource policies.

    Raises
    ------
    UnsupportedPolicyError
        When a statement uses what this evaluator does not implement.
    """
    allows: list[Statement] = []
    denies: list[Statement] = []
    for statements_, is_resource in ((identity, False), (resource, True)):
        for statement in statements_:
            if applies(statement, request, resource_policy=is_resource):
                (denies if statement.effect == "Deny" else allows).append(statement)
    if denies:
        return Decision(False, tuple(allows), tuple(denies))
    return Decision(bool(allows), tuple(allows))
