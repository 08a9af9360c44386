"""The recorded permission set (``terraform/required_permissions.json``) and its templates.

Resources and context values are templates: literal text with ``{ADDRESS#attribute.path}``
(a value of the deployed state) and ``{partition}``, ``{region}``, ``{account}``
placeholders, as ``scripts/iam_coverage.py --write`` writes them. :func:`render_template`
fills one in for an environment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from albums_cli.console import CliError
from albums_cli.environment import REPO_ROOT
from albums_cli.preflight.results import _bad, _display
from albums_cli.preflight.state import TerraformState, state_attribute

#: The permission set the test suite records (``--permissions`` replaces it).
REQUIRED_PERMISSIONS: Final = REPO_ROOT / "terraform" / "required_permissions.json"
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")
_PLAIN_PLACEHOLDERS: Final = ("partition", "region", "account")


@dataclass(frozen=True, slots=True)
class Identity:
    """Who runs the checks: ``sts:GetCallerIdentity``'s account, partition and ARN."""

    account: str
    partition: str
    arn: str


@dataclass(frozen=True, slots=True)
class Reference:
    """``{ADDRESS#attr.path}``: an attribute of a resource in the state."""

    address: str
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plain:
    """``{partition}``, ``{region}`` or ``{account}``."""

    name: str


#: A resource or context value: text and placeholders, in order.
Template = tuple[str | Reference | Plain, ...]
#: A context value: one template, or a list of them (numbers and booleans as text).
ContextValue = tuple[str, tuple[Template, ...]]


@dataclass(frozen=True, slots=True)
class Permission:
    """One action on one resource (with its condition context) a principal needs."""

    action: str
    resource: Template
    context: tuple[tuple[str, ContextValue], ...] = ()
    operations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Principal:
    """A role (simulated here) or a service principal (checked offline by ``make test``)."""

    name: str
    kind: str
    target: str
    permissions: tuple[Permission, ...]


@dataclass(frozen=True, slots=True)
class RequiredPermissions:
    """``terraform/required_permissions.json``: what each principal was seen to need."""

    origin: str
    principals: tuple[Principal, ...]


def parse_template(text: str, where: str, origin: str) -> Template:
    """Split ``text`` into literal text, ``{ADDRESS#attr.path}`` and ``{partition}``-style parts.

    The address may hold dots, brackets and quoted keys (``module.f["a.b"].aws_iam_role.x``);
    a ``#`` or ``}`` inside quotes belongs to it.

    Raises
    ------
    CliError
        (exit 2) for an unclosed or stray brace, an empty address or attribute path, or any
        other placeholder (such as the logical ``{table}`` of an older file).
    """
    parts: list[str | Reference | Plain] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        character = text[index]
        if character == "}":
            raise _bad(origin, where, f"a '}}' without its '{{' in {text!r}")
        if character != "{":
            literal.append(character)
            index += 1
            continue
        end, hash_at = _placeholder_end(text, index)
        if end < 0:
            raise _bad(origin, where, f"an unclosed '{{' in {text!r}")
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(_placeholder(text[index + 1 : end], hash_at - index - 1, where, origin))
        index = end + 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def _placeholder_end(text: str, start: int) -> tuple[int, int]:
    """Return the index of the ``}`` closing the ``{`` at ``start``, and of its ``#`` (or -1)."""
    quoted = False
    hash_at = -1
    index = start + 1
    while index < len(text):
        character = text[index]
        if quoted:
            if character == "\\":
                index += 1
            elif character == '"':
                quoted = False
        elif character == '"':
            quoted = True
        elif character == "#" and hash_at < 0:
            hash_at = index
        elif character == "}":
            return index, hash_at
        elif character == "{":
            return -1, -1
        index += 1
    return -1, -1


def _placeholder(inner: str, hash_at: int, where: str, origin: str) -> Reference | Plain:
    if hash_at < 0:
        if inner in _PLAIN_PLACEHOLDERS:
            return Plain(inner)
        raise _bad(
            origin,
            where,
            f"unknown placeholder {{{inner}}}: use {{ADDRESS#attribute.path}}, {{partition}}, "
            "{region} or {account} (regenerate the file with make iam-permissions)",
        )
    address, path = inner[:hash_at], inner[hash_at + 1 :]
    segments = tuple(path.split("."))
    if not address or not path or not all(segments):
        raise _bad(origin, where, f"{{{inner}}} needs an address, '#' and an attribute path")
    return Reference(address, segments)


def _string(value: Any, where: str, origin: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(origin, where, f"expected a non-empty string, got {value!r}")
    return value


def _list(value: Any, where: str, origin: str) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(origin, where, f"expected a list, got {value!r}")
    return value


def _context_value(value: Any, where: str, origin: str) -> ContextValue:
    """Return ``(ContextKeyType, values)`` of a context value from the file."""
    values = value if isinstance(value, list) else [value]
    kinds: set[str] = set()
    templates: list[Template] = []
    for index, item in enumerate(values):
        at = f"{where}[{index}]" if isinstance(value, list) else where
        if isinstance(item, bool):
            kinds.add("boolean")
            templates.append(("true" if item else "false",))
        elif isinstance(item, int | float):
            kinds.add("numeric")
            templates.append((str(item),))
        elif isinstance(item, str):
            kinds.add("string")
            templates.append(parse_template(item, at, origin))
        else:
            raise _bad(origin, at, f"expected a string, number or boolean, got {item!r}")
    if len(kinds) != 1:
        raise _bad(origin, where, "expected values of one type (a string, number or boolean)")
    kind = kinds.pop()
    return (f"{kind}List" if isinstance(value, list) else kind), tuple(templates)


def _permission(entry: Any, where: str, origin: str) -> Permission:
    if not isinstance(entry, Mapping):
        raise _bad(origin, where, "expected an object")
    action = entry.get("action")
    if not isinstance(action, str) or not _ACTION.fullmatch(action):
        raise _bad(origin, f"{where}.action", f'expected "service:Action", got {action!r}')
    resource = parse_template(
        _string(entry.get("resource"), f"{where}.resource", origin), f"{where}.resource", origin
    )
    context = entry.get("context", {})
    if not isinstance(context, Mapping):
        raise _bad(origin, f"{where}.context", "expected an object of condition keys")
    entries = tuple(
        (
            _string(key, f"{where}.context", origin),
            _context_value(value, f"{where}.context.{key}", origin),
        )
        for key, value in context.items()
    )
    operations = _list(entry.get("operations", []), f"{where}.operations", origin)
    calls = entry.get("calls", 0)
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 0:
        raise _bad(origin, f"{where}.calls", f"expected a count, got {calls!r}")
    return Permission(
        action=action,
        resource=resource,
        context=entries,
        operations=tuple(
            _string(name, f"{where}.operations[{index}]", origin)
            for index, name in enumerate(operations)
        ),
    )


def _principal(entry: Any, where: str, origin: str) -> Principal:
    if not isinstance(entry, Mapping):
        raise _bad(origin, where, "expected an object")
    name = _string(entry.get("name"), f"{where}.name", origin)
    kind = entry.get("kind")
    if kind == "role":
        target = _string(entry.get("role"), f"{where}.role", origin)
    elif kind == "service":
        target = _string(entry.get("principal"), f"{where}.principal", origin)
    else:
        raise _bad(origin, f"{where}.kind", f'expected "role" or "service", got {kind!r}')
    listed = _list(entry.get("permissions"), f"{where}.permissions", origin)
    permissions = tuple(
        _permission(item, f"{where}.permissions[{index}]", origin)
        for index, item in enumerate(listed)
    )
    return Principal(name, kind, target, permissions)


def parse_required_permissions(document: Any, origin: str) -> RequiredPermissions:
    """Read the recorded permission set (format version 1).

    Raises
    ------
    CliError
        (exit 2) naming the path of the first malformed field.
    """
    if not isinstance(document, Mapping):
        raise _bad(origin, "(top level)", "expected a JSON object")
    if document.get("version") != 1:
        raise _bad(origin, "version", f"expected 1, got {document.get('version')!r}")
    listed = _list(document.get("principals"), "principals", origin)
    principals = tuple(
        _principal(item, f"principals[{index}]", origin) for index, item in enumerate(listed)
    )
    return RequiredPermissions(origin, principals)


def load_required_permissions(path: Path) -> RequiredPermissions:
    """Read ``required_permissions.json`` at ``path``.

    Raises
    ------
    CliError
        (exit 2) when it cannot be read, is not JSON, or is malformed.
    """
    origin = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"{origin}: cannot read it ({error.__class__.__name__})") from None
    try:
        document = json.loads(text)
    except ValueError as error:
        raise CliError(f"{origin}: not JSON ({error})") from None
    return parse_required_permissions(document, origin)


@dataclass(frozen=True, slots=True)
class Binding:
    """What placeholders are replaced with: the state, the caller and the region."""

    state: TerraformState
    identity: Identity
    region: str


def render_template(template: Template, binding: Binding) -> str:
    """Return ``template`` with every placeholder replaced by its value.

    Raises
    ------
    UnresolvedError
        When the state has no such resource or attribute.
    """
    identity = binding.identity
    plain = {
        "partition": identity.partition,
        "region": binding.region,
        "account": identity.account,
    }
    text: list[str] = []
    for part in template:
        if isinstance(part, Reference):
            text.append(state_attribute(binding.state, part.address, part.path))
        elif isinstance(part, Plain):
            text.append(plain[part.name])
        else:
            text.append(part)
    return "".join(text)
