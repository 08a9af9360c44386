"""The ``iam`` checks: ``SimulatePrincipalPolicy`` of each deployed role (after apply)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from albums_cli.preflight.permissions import (
    REQUIRED_PERMISSIONS,
    Binding,
    ContextValue,
    Identity,
    Principal,
    RequiredPermissions,
    Template,
    render_template,
)
from albums_cli.preflight.results import (
    CheckResult,
    _attempt,
    _display,
    _fail,
    _Failed,
    _ok,
    _skip,
)
from albums_cli.preflight.state import TerraformState, UnresolvedError, state_attribute


def _context_entries(
    context: Sequence[tuple[str, ContextValue]], render: Callable[[Template], str]
) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    return tuple(
        (key, kind, tuple(render(template) for template in templates))
        for key, (kind, templates) in context
    )


def _statement(statement: Mapping[str, Any]) -> str:
    where = statement.get("StartPosition") or {}
    line = f" line {where['Line']}" if "Line" in where else ""
    return (
        f"{statement.get('SourcePolicyId', '?')} ({statement.get('SourcePolicyType', '?')}){line}"
    )


def _denials(result: Mapping[str, Any]) -> list[tuple[str, str, list[Any], list[Any]]]:
    """Return ``(resource, decision, matched, missing)`` of each denied part of a result."""
    found = [
        (
            str(specific.get("EvalResourceName", "*")),
            str(specific.get("EvalResourceDecision")),
            list(specific.get("MatchedStatements") or []),
            list(specific.get("MissingContextValues") or []),
        )
        for specific in result.get("ResourceSpecificResults") or []
        if specific.get("EvalResourceDecision") != "allowed"
    ]
    if not found and result.get("EvalDecision") != "allowed":
        found.append(
            (
                str(result.get("EvalResourceName", "*")),
                str(result.get("EvalDecision")),
                list(result.get("MatchedStatements") or []),
                list(result.get("MissingContextValues") or []),
            )
        )
    return found


def _simulate(
    iam: Any, role_arn: str, actions: Sequence[str], resources: Sequence[str], context: Any
) -> list[dict[str, Any]] | _Failed:
    """Return every evaluation result of one simulation, following ``Marker`` pages."""
    params: dict[str, Any] = {
        "PolicySourceArn": role_arn,
        "ActionNames": list(actions),
        "ResourceArns": list(resources),
    }
    if context:
        params["ContextEntries"] = [
            {"ContextKeyName": key, "ContextKeyValues": list(values), "ContextKeyType": kind}
            for key, kind, values in context
        ]
    results: list[dict[str, Any]] = []
    while True:
        page = _attempt(lambda: iam.simulate_principal_policy(**params))
        if isinstance(page, _Failed):
            return page
        results += page.get("EvaluationResults") or []
        if not page.get("IsTruncated") or not page.get("Marker"):
            return results
        params["Marker"] = page["Marker"]


#: Permissions to simulate: (action, context entries) to the resources it needs, in order.
_Wanted = dict[tuple[str, Any], list[str]]


def _wanted(
    principal: Principal, render: Callable[[Template], str], name: str
) -> tuple[_Wanted, dict[str, set[str]], list[CheckResult]]:
    """Resolve a principal's permissions: what to simulate, who needs each action, failures."""
    wanted: _Wanted = {}
    used_by: dict[str, set[str]] = {}
    failures: list[CheckResult] = []
    for permission in principal.permissions:
        try:
            resource = render(permission.resource)
            context = _context_entries(permission.context, render)
        except UnresolvedError as error:
            failures.append(
                _fail(
                    name,
                    f"{permission.action}: cannot resolve its resource or context: "
                    f"{error.message} (is the environment fully applied? make apply ENV=...)",
                )
            )
            continue
        resources = wanted.setdefault((permission.action, context), [])
        if resource not in resources:
            resources.append(resource)
        used_by.setdefault(permission.action, set()).update(permission.operations)
    return wanted, used_by, failures


def _groups(wanted: _Wanted) -> dict[tuple[Any, tuple[str, ...]], list[str]]:
    """Return the actions of each (context, resource set): one simulation each."""
    groups: dict[tuple[Any, tuple[str, ...]], list[str]] = {}
    for (action, context), resources in wanted.items():
        actions = groups.setdefault((context, tuple(resources)), [])
        if action not in actions:
            actions.append(action)
    return groups


def _judge(
    name: str,
    role_arn: str,
    actions: Sequence[str],
    results: Sequence[Mapping[str, Any]],
    used_by: Mapping[str, set[str]],
) -> list[CheckResult]:
    """Return a FAIL line for every result that is not ``allowed`` (or is missing)."""
    answered = {str(result.get("EvalActionName")) for result in results}
    failures = [
        _fail(name, f"{action}: no simulation result for {role_arn}")
        for action in actions
        if action not in answered
    ]
    for result in results:
        action = str(result.get("EvalActionName"))
        operations = sorted(used_by.get(action, set()))
        for resource, decision, matched, missing in _denials(result):
            statements = ", ".join(_statement(item) for item in matched) or "no statement"
            failures.append(
                _fail(
                    name,
                    f"{action} on {resource} is {decision} for {role_arn} (matched: "
                    f"{statements}; missing context: {', '.join(map(str, missing)) or 'none'}"
                    + (f"; needed by {', '.join(operations)}" if operations else "")
                    + "): grant it in the role's policy under terraform/ and apply",
                )
            )
    return failures


def simulate_role(
    iam: Any,
    principal: Principal,
    *,
    state: TerraformState,
    identity: Identity,
    region: str,
) -> list[CheckResult]:
    """Simulate one deployed role over its recorded permissions.

    Permissions are grouped so each action is simulated with its own resources only: one
    ``SimulatePrincipalPolicy`` call (paginated) per context and resource set, with every
    action that needs exactly that set. Every result that is not ``allowed`` is a ``FAIL``
    line naming the action, the resource and the matched statements / missing context keys.

    Parameters
    ----------
    iam
        An IAM client.
    principal
        A principal of kind ``role``.
    state
        The environment's state: the role's ARN and every placeholder come from it.
    identity
        The caller's account and partition (``{account}``, ``{partition}``).
    region
        ``{region}``.
    """
    name = f"iam {principal.name}"
    try:
        role_arn = state_attribute(state, principal.target, ("arn",))
    except UnresolvedError as error:
        return [_fail(name, f"role not deployed: {error.message}: run make apply ENV=...")]

    binding = Binding(state, identity, region)

    def render(template: Template) -> str:
        return render_template(template, binding)

    wanted, used_by, failures = _wanted(principal, render, name)
    simulated = 0
    for (context, resources), actions in _groups(wanted).items():
        results = _simulate(iam, role_arn, actions, resources, context)
        if isinstance(results, _Failed):
            failures.append(
                _fail(
                    name,
                    f"SimulatePrincipalPolicy of {', '.join(actions)} for {role_arn} failed: "
                    f"{results.message or 'error'}",
                )
            )
            continue
        simulated += len(actions) * len(resources)
        failures += _judge(name, role_arn, actions, results, used_by)
    if failures:
        return failures
    actions_count = len({action for action, _ in wanted})
    resources_count = len({arn for arns in wanted.values() for arn in arns})
    return [
        _ok(
            name,
            f"{actions_count} action(s) on {resources_count} resource(s) allowed for "
            f"{role_arn} ({simulated} pair(s) simulated)",
        )
    ]


def check_iam(
    iam: Any,
    permissions: RequiredPermissions | None,
    *,
    state: TerraformState,
    identity: Identity,
    region: str,
    state_problem: str | None = None,
) -> list[CheckResult]:
    """Simulate every deployed role over the recorded permission set (after apply).

    Parameters
    ----------
    iam
        An IAM client.
    permissions
        The recorded set (``None`` when the file is missing).
    state
        The environment's state (empty before apply: the check is skipped).
    identity
        The caller's account and partition.
    region
        The environment's region.
    state_problem
        Why the state could not be read, if it could not.
    """
    name = "iam simulation"
    if state_problem is not None:
        return [_fail(name, state_problem)]
    if permissions is None:
        if not state.applied:
            return [_skip(name, "nothing deployed yet: run after make apply")]
        return [
            _fail(
                name,
                f"no {_display(REQUIRED_PERMISSIONS)} (the permission set the test suite "
                "records): run make test, or pass --permissions PATH",
            )
        ]
    roles = [principal for principal in permissions.principals if principal.kind == "role"]
    if not any(principal.target in state.resources for principal in roles):
        return [_skip(name, "no deployed role in the state yet: run after make apply")]
    results: list[CheckResult] = []
    for principal in permissions.principals:
        if principal.kind != "role":
            results.append(
                _skip(
                    f"iam {principal.name}",
                    f"service principal {principal.target}: its resource policies are "
                    "checked offline by make test",
                )
            )
            continue
        results += simulate_role(iam, principal, state=state, identity=identity, region=region)
    return results
