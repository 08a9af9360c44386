"""Least privilege, checked: every IAM policy in terraform/ parsed, no wildcard grants.

Run with the python of ``.venv-tf`` (it needs python-hcl2): ``make tf-check`` does, and
``python scripts/iam_check.py [--root DIR]`` checks another tree. It reads every ``.tf``
file and collects every policy statement there is:

- ``data "aws_iam_policy_document"`` statements (static and ``dynamic`` blocks);
- the ``policy_statements`` input of every module call (literal, or through ``locals``
  and ``for_each = local.X`` with ``each.value.statements``): the lambda_function and
  durable_orchestrator modules turn these into their role policy;
- inline policies: ``policy``, ``assume_role_policy`` and ``policy_document`` attributes
  (and ``inline_policy`` blocks) written as ``jsonencode({...})`` or as JSON text; any
  other expression must be an ``aws_iam_policy_document``'s ``.json``, or it is reported
  as unreadable;
- ``aws_lambda_permission`` resources (resource-policy statements of a function).

An ``Allow`` statement fails when it names a wildcard action (``*``, ``s3:*``,
``s3:Get*``), uses ``NotAction``/``NotResource``/``NotPrincipal``, grants to any principal
(``*``), lists no resources where an identity policy needs them, or names an unscoped
resource (``*``, or an ARN whose resource part is only a wildcard, such as
``arn:aws:s3:::*`` or ``...:table/*``), unless every action of that statement is in
:data:`UNSCOPED_ALLOWED`, where AWS offers no narrower resource, with the condition it
requires. ``Deny`` statements grant nothing and are not judged. Expressions the check
cannot resolve are judged by the string literals inside them, so ``concat(var.x,
["*"])`` still fails.

Prints every allow-list use with its reason, one line per problem, and exits 1 when
there is any problem.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Allowance:
    """Why an action may be granted on ``*``, and the condition key it must then carry."""

    reason: str
    condition_key: str | None = None


_XRAY: Final = (
    "X-Ray defines no resource type for this action: the only valid resource is '*' "
    "(Service Authorization Reference, AWS X-Ray)"
)
_LOG_DELIVERY: Final = (
    "Step Functions execution logging: CloudWatch Logs vended-log delivery acts on the "
    "account's deliveries and resource policy, and AWS documents these actions on '*' "
    "(Step Functions developer guide, 'IAM policies for logging to CloudWatch Logs')"
)

_TASK_TOKENS: Final = (
    "Step Functions task-token callbacks have no resource type: IAM only matches them on "
    "'*' (Service Authorization Reference, AWS Step Functions); the token names the task"
)

#: Actions AWS only grants on ``*``, each with its reason (and required condition key).
UNSCOPED_ALLOWED: Final[Mapping[str, Allowance]] = {
    "states:SendTaskSuccess": Allowance(_TASK_TOKENS),
    "states:SendTaskFailure": Allowance(_TASK_TOKENS),
    "states:SendTaskHeartbeat": Allowance(_TASK_TOKENS),
    "xray:PutTraceSegments": Allowance(_XRAY),
    "xray:PutTelemetryRecords": Allowance(_XRAY),
    "xray:GetSamplingRules": Allowance(_XRAY),
    "xray:GetSamplingTargets": Allowance(_XRAY),
    **{
        f"logs:{action}": Allowance(_LOG_DELIVERY)
        for action in (
            "CreateLogDelivery",
            "GetLogDelivery",
            "UpdateLogDelivery",
            "DeleteLogDelivery",
            "ListLogDeliveries",
            "PutResourcePolicy",
            "DescribeResourcePolicies",
            "DescribeLogGroups",
        )
    },
    "cloudwatch:PutMetricData": Allowance(
        "CloudWatch metrics have no ARN; the cloudwatch:namespace condition is the scope",
        condition_key="cloudwatch:namespace",
    ),
}

#: ``aws_lambda_permission`` grants to ``*`` AWS requires, keyed by (action, the argument
#: that scopes the grant to a function URL, the value it must have); every other grant to
#: ``*`` fails, and so does one of these without its scoping argument.
PUBLIC_PERMISSION_ALLOWED: Final[Mapping[tuple[str, str, str], str]] = {
    ("lambda:InvokeFunctionUrl", "function_url_auth_type", "NONE"): (
        "a function URL with auth type NONE is public by definition and AWS requires "
        "principal '*' for it; the function itself checks an HMAC-signed link"
    ),
    ("lambda:InvokeFunction", "invoked_via_function_url", "true"): (
        "function URLs created since October 2025 need lambda:InvokeFunction as well "
        "(Lambda developer guide, 'Control access to Lambda function URLs'); "
        "invoked_via_function_url adds the condition lambda:InvokedViaFunctionUrl, so the "
        "grant holds only for requests through the function URL, never a direct Invoke"
    ),
}

_POLICY_ATTRIBUTES: Final = ("policy", "assume_role_policy", "policy_document")
_INTERPOLATION: Final = re.compile(r"\$\{[^{}]*\}")
_REFERENCE: Final = re.compile(r"\$\{(local|each\.value)\.([A-Za-z0-9_.-]+)\}")
_DOCUMENT_JSON: Final = re.compile(
    r"\$\{data\.aws_iam_policy_document\.[A-Za-z0-9_-]+(\[[^]]*\])?\.json\}"
)
_JSONENCODE: Final = re.compile(r"\$\{jsonencode\((?P<body>.*)\)\}", re.S)
_LITERAL: Final = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_UNSCOPED_ARN_RESOURCE: Final = re.compile(r"(?:[A-Za-z0-9-]+[/:])?\*")
_MAX_DEPTH: Final = 20
_MISSING: Final = object()
_NEGATED: Final = {
    "not_actions": "NotAction",
    "not_resources": "NotResource",
    "not_principals": "NotPrincipal",
}


@dataclass(frozen=True, slots=True)
class Statement:
    """One policy statement, as far as the check needs it.

    ``actions`` and ``resources`` hold literal strings and unresolved expressions alike
    (``None`` resources: the statement has none).
    """

    where: str
    effect: str = "Allow"
    actions: tuple[Any, ...] = ()
    resources: tuple[Any, ...] | None = None
    principals: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    condition_keys: frozenset[str] = frozenset()
    negated: tuple[str, ...] = ()


@dataclass
class Report:
    """What the check found: statements read, allow-list uses, problems."""

    statements: int = 0
    allowed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# --- reading HCL ---------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    import hcl2  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415 - .venv-tf only

    with path.open(encoding="utf-8") as handle:
        parsed: dict[str, Any] = hcl2.load(handle)
    return parsed


def _attr(block: Mapping[str, Any], name: str) -> Any:
    """An attribute's value (python-hcl2 wraps block attributes in a one-item list)."""
    value = block.get(name)
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _named(doc: Mapping[str, Any], kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(type, name, body)`` of every ``resource``/``data`` block of a parsed file."""
    for entry in doc.get(kind, []):
        for type_name, named in entry.items():
            for name, body in named.items():
                yield type_name, name, body


class Scope:
    """Resolves ``local.X`` and ``each.value.X`` references inside one module directory."""

    def __init__(self, locals_: Mapping[str, Any], each_value: Any = None) -> None:
        self.locals = locals_
        self.each_value = each_value

    def resolve(self, value: Any, depth: int = 0) -> Any:
        """Return ``value`` with whole-string references replaced by what they name."""
        if depth > _MAX_DEPTH:
            return value
        if isinstance(value, list):
            return [self.resolve(item, depth + 1) for item in value]
        if isinstance(value, dict):
            return {key: self.resolve(item, depth + 1) for key, item in value.items()}
        match = _REFERENCE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            return value
        found = self._lookup(match.group(1), match.group(2).split("."))
        return value if found is _MISSING else self.resolve(found, depth + 1)

    def _lookup(self, root: str, path: list[str]) -> Any:
        if root == "local":
            if path[0] not in self.locals:
                return _MISSING
            found, path = _attr(self.locals, path[0]), path[1:]
        else:
            found = self.each_value
        for name in path:
            if not isinstance(found, dict) or name not in found:
                return _MISSING
            found = found[name]
        return found


# --- judging -------------------------------------------------------------------------------


def literals_in(expression: str) -> list[str]:
    """The quoted string literals inside an unresolved expression."""
    return [single or double for single, double in _LITERAL.findall(expression)]


def _collapsed(text: str) -> str:
    """``text`` with every interpolation (innermost first) replaced by ``X``."""
    while _INTERPOLATION.search(text):
        text = _INTERPOLATION.sub("X", text)
    return text


def is_unscoped(resource: str) -> bool:
    """Whether a resource string grants every resource of a kind (``*``, ``arn:...:*``)."""
    text = _collapsed(resource)
    if text == "*":
        return True
    parts = text.split(":", 5)
    if not text.startswith("arn:") or len(parts) != 6:
        return False
    if parts[2] == "s3":
        # S3 ARNs have no resource type: "bucket/key"; only a wildcard bucket is unscoped.
        return parts[5].startswith("*")
    return _UNSCOPED_ARN_RESOURCE.fullmatch(parts[5]) is not None


def _flat(values: tuple[Any, ...] | list[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        flat.extend(_flat(value) if isinstance(value, list | tuple) else [value])
    return flat


def check_statement(statement: Statement, report: Report) -> None:
    """Judge one statement; record its problems and allow-list uses in ``report``."""
    report.statements += 1
    if statement.effect == "Deny":
        return
    problems = [
        f"{label} in an Allow statement grants everything else" for label in statement.negated
    ]
    problems += _action_problems(statement.actions)
    for kind, identifiers in statement.principals:
        if kind == "*" or "*" in [str(i) for i in _flat(identifiers)]:
            problems.append("grants to any principal ('*')")
    if statement.resources is None:
        if not statement.principals:
            problems.append("an identity policy statement without resources")
    else:
        unscoped = _unscoped_resources(statement.resources, problems)
        if unscoped:
            problems += _judge_unscoped(statement, unscoped, report)
    report.problems += [f"{statement.where}: {problem}" for problem in problems]


def _action_problems(actions: tuple[Any, ...]) -> list[str]:
    problems = []
    for action in _flat(actions):
        if not isinstance(action, str) or "${" in action:
            problems.append(f"action {action!r} is not a literal: it cannot be checked")
        elif "*" in action:
            problems.append(f"wildcard action {action!r}")
    return problems


def _unscoped_resources(resources: tuple[Any, ...], problems: list[str]) -> list[str]:
    unscoped: list[str] = []
    for resource in _flat(resources):
        if not isinstance(resource, str):
            problems.append(f"resource {resource!r} is not a string")
        elif _collapsed(resource) == "X":
            # One expression (a reference, concat(...), a conditional): judge its literals.
            unscoped += [text for text in literals_in(resource) if is_unscoped(text)]
        elif is_unscoped(resource):
            unscoped.append(resource)
    return unscoped


def _judge_unscoped(statement: Statement, unscoped: list[str], report: Report) -> list[str]:
    """Problems of a statement on unscoped resources; allow-list uses go to ``report``."""
    actions = [a for a in _flat(statement.actions) if isinstance(a, str) and "${" not in a]
    refused = [action for action in actions if action not in UNSCOPED_ALLOWED]
    if refused or not actions:
        return [f"unscoped resource {unscoped} for {refused or actions}"]
    problems = []
    allowed: dict[str, list[str]] = {}
    for action in actions:
        allowance = UNSCOPED_ALLOWED[action]
        if allowance.condition_key not in (None, *statement.condition_keys):
            problems.append(f"{action} on '*' needs a {allowance.condition_key} condition")
        else:
            allowed.setdefault(allowance.reason, []).append(action)
    report.allowed += [
        f"{statement.where}: {', '.join(names)} on '*': {reason}"
        for reason, names in allowed.items()
    ]
    return problems


# --- collecting statements -------------------------------------------------------------------


def _document_statements(where: str, body: Mapping[str, Any], scope: Scope) -> Iterator[Statement]:
    for index, block in enumerate(body.get("statement", [])):
        yield _block_statement(f"{where} statement {_sid(block, index)}", block, scope)
    for dynamic in body.get("dynamic", []):
        spec = dynamic.get("statement")
        if not isinstance(spec, dict):
            continue
        for_each = _attr(spec, "for_each")
        if for_each == "${var.policy_statements}":
            continue  # checked where each module call passes its policy_statements
        for index, content in enumerate(spec.get("content", [])):
            statement = _block_statement(
                f"{where} dynamic statement {_sid(content, index)}", content, scope
            )
            if isinstance(for_each, str):
                # The iterator's values are the for_each expression's literals.
                extra = tuple(text for text in literals_in(for_each) if is_unscoped(text))
                statement = Statement(
                    statement.where,
                    statement.effect,
                    statement.actions,
                    (*(statement.resources or ()), *extra),
                    statement.principals,
                    statement.condition_keys,
                    statement.negated,
                )
            yield statement


def _sid(block: Mapping[str, Any], index: int) -> str:
    sid = _attr(block, "sid")
    return repr(sid) if isinstance(sid, str) else f"#{index + 1}"


def _block_statement(where: str, block: Mapping[str, Any], scope: Scope) -> Statement:
    """A statement block of an ``aws_iam_policy_document``."""
    principals = tuple(
        (str(_attr(p, "type")), tuple(_as_list(scope.resolve(_attr(p, "identifiers")))))
        for p in block.get("principals", [])
    )
    resources = _attr(block, "resources")
    return Statement(
        where=where,
        effect=str(_attr(block, "effect") or "Allow"),
        actions=tuple(_as_list(scope.resolve(_attr(block, "actions")))),
        resources=None if resources is None else tuple(_as_list(scope.resolve(resources))),
        principals=principals,
        condition_keys=frozenset(
            str(_attr(c, "variable")) for c in block.get("condition", []) if isinstance(c, dict)
        ),
        negated=tuple(label for name, label in _NEGATED.items() if name in block),
    )


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _json_statements(where: str, policy: Any, scope: Scope) -> Iterator[Statement]:
    """Statements of a JSON policy document (from ``jsonencode`` or JSON text)."""
    raw = policy.get("Statement") if isinstance(policy, dict) else None
    statements = raw if isinstance(raw, list) else [raw]
    for index, entry in enumerate(statements):
        if not isinstance(entry, dict):
            yield Statement(f"{where} statement #{index + 1}", actions=(entry,))
            continue
        principal = entry.get("Principal")
        principals: tuple[tuple[str, tuple[Any, ...]], ...] = ()
        if principal == "*":
            principals = (("*", ("*",)),)
        elif isinstance(principal, dict):
            principals = tuple(
                (str(kind), tuple(_as_list(scope.resolve(ids)))) for kind, ids in principal.items()
            )
        conditions = entry.get("Condition")
        keys = (
            {str(key) for test in conditions.values() if isinstance(test, dict) for key in test}
            if isinstance(conditions, dict)
            else set()
        )
        resources = entry.get("Resource")
        sid = entry.get("Sid")
        yield Statement(
            where=f"{where} statement {repr(sid) if sid else f'#{index + 1}'}",
            effect=str(entry.get("Effect", "Allow")),
            actions=tuple(_as_list(scope.resolve(entry.get("Action")))),
            resources=None if resources is None else tuple(_as_list(scope.resolve(resources))),
            principals=principals,
            condition_keys=frozenset(keys),
            negated=tuple(label for label in _NEGATED.values() if label in entry),
        )


def _inline_policy(where: str, value: Any, scope: Scope) -> Iterator[Statement] | str:
    """Statements of an inline policy attribute, or why it cannot be read."""
    if not isinstance(value, str):
        return "is not a policy document"
    if _DOCUMENT_JSON.fullmatch(value):
        return iter(())  # an aws_iam_policy_document: checked as a data block
    encoded = _JSONENCODE.fullmatch(value)
    try:
        if encoded is not None:
            return _json_statements(where, ast.literal_eval(encoded.group("body")), scope)
        if value.lstrip().startswith("{"):
            return _json_statements(where, json.loads(value), scope)
    except (ValueError, SyntaxError):
        return "holds expressions the check cannot read; use an aws_iam_policy_document"
    return "is neither JSON, jsonencode({...}) nor an aws_iam_policy_document's .json"


def _permission_statement(where: str, body: Mapping[str, Any], report: Report) -> Statement:
    principal = str(_attr(body, "principal"))
    action = str(_attr(body, "action"))
    for (allowed_action, argument, value), reason in PUBLIC_PERMISSION_ALLOWED.items():
        if principal == "*" and action == allowed_action and _hcl_text(body, argument) == value:
            report.allowed.append(f"{where}: {action} for '*' ({argument} = {value}): {reason}")
            principal = "public function URL"
            break
    return Statement(where, actions=(action,), principals=(("Permission", (principal,)),))


def _hcl_text(body: Mapping[str, Any], name: str) -> str | None:
    """A literal argument as HCL writes it (python-hcl2 turns ``true`` into ``True``)."""
    value = _attr(body, name)
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def _module_statements(
    where: str, body: Mapping[str, Any], scope: Scope
) -> Iterator[Statement] | str:
    """Statements a module call passes as ``policy_statements``, or why they cannot be read."""
    raw = _attr(body, "policy_statements")
    for_each = _attr(body, "for_each")
    scopes = [scope]
    if for_each is not None and "each.value" in json.dumps(raw):
        items = scope.resolve(for_each)
        if not isinstance(items, dict):
            return f"for_each {for_each!r} cannot be resolved to check policy_statements"
        scopes = [Scope(scope.locals, value) for value in items.values()]
    found: list[Statement] = []
    for each_scope in scopes:
        statements = each_scope.resolve(raw)
        if not isinstance(statements, list):
            return f"policy_statements {raw!r} cannot be resolved"
        for index, entry in enumerate(statements):
            if not isinstance(entry, dict):
                return f"policy_statements entry {entry!r} cannot be resolved"
            found.append(
                Statement(
                    where=f"{where} policy_statements {entry.get('sid', f'#{index + 1}')!r}",
                    actions=tuple(_as_list(entry.get("actions"))),
                    resources=tuple(_as_list(each_scope.resolve(entry.get("resources")))),
                )
            )
    return iter(found)


def check_tree(root: Path) -> Report:
    """Check every policy of every ``.tf`` file under ``root``."""
    report = Report()
    files = sorted(p for p in root.rglob("*.tf") if ".terraform" not in p.parts)
    parsed = {path: _load(path) for path in files}
    locals_by_dir: dict[Path, dict[str, Any]] = {}
    for path, doc in parsed.items():
        merged = locals_by_dir.setdefault(path.parent, {})
        for block in doc.get("locals", []):
            merged.update({k: v for k, v in block.items() if not k.startswith("__")})
    for path, doc in parsed.items():
        scope = Scope(locals_by_dir.get(path.parent, {}))
        name = path.relative_to(root.parent) if root.parent in path.parents else path
        for statement in _statements_of(str(name), doc, scope, report):
            check_statement(statement, report)
    return report


def _statements_of(
    name: str, doc: Mapping[str, Any], scope: Scope, report: Report
) -> Iterator[Statement]:
    for type_name, block_name, body in _named(doc, "data"):
        if type_name == "aws_iam_policy_document":
            where = f"{name}:{body.get('__start_line__', '?')} data.{type_name}.{block_name}"
            yield from _document_statements(where, body, scope)
    for type_name, block_name, body in _named(doc, "resource"):
        where = f"{name}:{body.get('__start_line__', '?')} {type_name}.{block_name}"
        if type_name == "aws_lambda_permission":
            yield _permission_statement(where, body, report)
        yield from _resource_policies(where, body, scope, report)
    for entry in doc.get("module", []):
        for module_name, body in entry.items():
            if "policy_statements" in body:
                where = f"{name}:{body.get('__start_line__', '?')} module.{module_name}"
                yield from _reported(where, _module_statements(where, body, scope), report)


def _resource_policies(
    where: str, body: Mapping[str, Any], scope: Scope, report: Report
) -> Iterator[Statement]:
    """Statements of a resource's inline policy attributes and ``inline_policy`` blocks."""
    sources = [(attribute, _attr(body, attribute)) for attribute in _POLICY_ATTRIBUTES]
    sources += [("inline_policy", _attr(b, "policy")) for b in body.get("inline_policy", [])]
    for attribute, value in sources:
        if value is not None:
            found = _inline_policy(f"{where} {attribute}", scope.resolve(value), scope)
            yield from _reported(f"{where}: {attribute}", found, report)


def _reported(where: str, found: Iterator[Statement] | str, report: Report) -> Iterator[Statement]:
    """The statements found, or nothing when ``found`` says why there are none to read."""
    if isinstance(found, str):
        report.problems.append(f"{where} {found}")
        return iter(())
    return found


def main(argv: list[str] | None = None) -> int:
    """Check the tree, print the allow-list uses and the problems; 1 when any."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT / "terraform")
    parser.add_argument("--quiet", action="store_true", help="print only problems and the total")
    args = parser.parse_args(argv)
    report = check_tree(args.root.resolve())
    if not args.quiet:
        for line in report.allowed:
            print(f"iam-check: allowed {line}")
    for line in report.problems:
        print(f"iam-check: FAIL {line}")
    print(
        f"iam-check: {report.statements} statements, {len(report.allowed)} allow-list uses, "
        f"{len(report.problems)} problems"
    )
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
