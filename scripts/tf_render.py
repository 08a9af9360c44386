"""Render each environment exactly as Terraform would, offline: policies and the definition.

``terraform validate`` and the module tests (mock provider) never show the IAM policies or
the state machine definition an environment really gets: the policies are
``aws_iam_policy_document`` data sources over ARNs that exist only after an apply, and a
mock provider answers them with placeholders. This script gets the real text with
``terraform test`` (plan only, no apply, nothing created):

1. pass 1 plans the environment root of the offline copy with its real defaults, the real
   AWS provider and a local moto server for the two reads a plan makes (the caller
   identity and the signing secret's random password);
2. every resource whose ARN is computed by AWS is then overridden (``override_resource``,
   ``override_during = plan``) with the ARN AWS would give it, built from its planned name;
3. pass 2 applies, with every resource overridden so nothing is created anywhere: the
   provider reads every policy document (a plan defers those reads while the resources
   they name are pending) and Terraform renders the state machine definition from its
   template, with the values the environment uses.

It writes ``out/tf-check/ENV/state.json`` (what the environment would hold after an apply,
in Terraform's JSON state format, as ``terraform show -json`` prints it) and
``out/tf-check/ENV/state_machine.asl.json`` (the definition as deployed).
``scripts/iam_coverage.py`` checks the suite's recorded calls against that plan, and
``scripts/asl_check.py`` validates the definition.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess  # nosec B404  # runs terraform, never a shell
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.tf_smoke import ENDPOINTS, free_port, moto_server, stand_in_artifacts

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
OUT: Final = REPO_ROOT / "out" / "tf-check"
REGION: Final = "us-east-1"
ACCOUNT: Final = "123456789012"
PARTITION: Final = "aws"
TEST_FILE: Final = "tests/render.tftest.hcl"
TIMEOUT_SECONDS: Final = 300


class RenderError(Exception):
    """An environment could not be rendered."""


def _arn(service: str, resource: str, *, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def _function(after: Mapping[str, Any]) -> dict[str, Any]:
    name = after["function_name"]
    arn = _arn("lambda", f"function:{name}")
    version = "1" if after.get("publish") else "$LATEST"
    invoke = (
        f"arn:{PARTITION}:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations"
    )
    return {
        "arn": arn,
        "id": name,
        "version": version,
        "qualified_arn": f"{arn}:{version}",
        "invoke_arn": invoke,
        "qualified_invoke_arn": invoke.replace(arn, f"{arn}:{version}"),
    }


def _alias(after: Mapping[str, Any]) -> dict[str, Any]:
    function = str(after["function_name"])
    base = function if function.startswith("arn:") else _arn("lambda", f"function:{function}")
    return {"arn": f"{base}:{after['name']}", "id": f"{base}:{after['name']}"}


def _layer(after: Mapping[str, Any]) -> dict[str, Any]:
    layer = _arn("lambda", f"layer:{after['layer_name']}")
    return {"layer_arn": layer, "arn": f"{layer}:1", "version": "1", "id": f"{layer}:1"}


def _queue(after: Mapping[str, Any]) -> dict[str, Any]:
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{after['name']}"
    return {"arn": _arn("sqs", str(after["name"])), "url": url, "id": url}


def _simple(
    service: str,
    template: str,
    *,
    id_is_arn: bool = False,
    account: str = ACCOUNT,
    region: str = REGION,
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    def values(after: Mapping[str, Any]) -> dict[str, Any]:
        arn = _arn(service, template.format(**after), region=region, account=account)
        return {"arn": arn, "id": arn if id_is_arn else template.format(**after).split("/")[-1]}

    return values


#: The ARN (and the ids derived from it) AWS gives each kind of resource on create.
COMPUTED: Final[Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]]] = {
    "aws_lambda_function": _function,
    "aws_lambda_alias": _alias,
    "aws_lambda_layer_version": _layer,
    "aws_sqs_queue": _queue,
    "aws_iam_role": lambda after: {
        "arn": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{after['name']}",
        "id": after["name"],
        "unique_id": "AROA" + str(abs(hash(after["name"])))[:17],
    },
    "aws_s3_bucket": lambda after: {
        "arn": f"arn:{PARTITION}:s3:::{after['bucket']}",
        "id": after["bucket"],
    },
    "aws_dynamodb_table": _simple("dynamodb", "table/{name}"),
    "aws_sns_topic": _simple("sns", "{name}", id_is_arn=True),
    "aws_secretsmanager_secret": _simple("secretsmanager", "secret:{name}-AbCdEf", id_is_arn=True),
    "aws_sfn_state_machine": _simple("states", "stateMachine:{name}", id_is_arn=True),
    "aws_cloudwatch_event_rule": _simple("events", "rule/{name}"),
    "aws_cloudwatch_log_group": _simple("logs", "log-group:{name}"),
    "aws_cloudwatch_metric_alarm": _simple("cloudwatch", "alarm:{alarm_name}"),
}


def _hcl_string(value: str) -> str:
    return json.dumps(value)


def provider_block(port: int) -> str:
    """The real AWS provider, offline: fake keys, every endpoint on the local moto server."""
    endpoint = f"http://127.0.0.1:{port}"
    endpoints = "\n".join(f"    {name} = {_hcl_string(endpoint)}" for name in ENDPOINTS)
    return f"""provider "aws" {{
  region                      = "{REGION}"
  access_key                  = "render"
  secret_key                  = "render"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  # The moto server, niced beside the test suite, can drop a response under load (seen
  # as "StatusCode: 200 ... exceeded maximum number of attempts"): a few retries of the
  # data sources' reads, as tf-smoke allows.
  max_retries                 = 3

  endpoints {{
{endpoints}
  }}
}}
"""


def overrides(plan: Mapping[str, Any]) -> Iterator[str]:
    """``override_resource`` for every planned resource: nothing is created, not even in moto.

    Resources whose ARN AWS computes get the ARN AWS would give them; the others keep their
    configuration (Terraform invents the computed attributes nobody reads).
    """
    for change in plan.get("resource_changes", []):
        if change.get("mode") != "managed":
            continue
        after = change["change"].get("after") or {}
        values: dict[str, Any] = {}
        if change["type"] in COMPUTED:
            try:
                values = COMPUTED[change["type"]](after)
            except (KeyError, TypeError) as error:
                raise RenderError(
                    f"{change['address']}: no planned name to build its ARN ({error})"
                ) from error
        body = "".join(f"    {key} = {_hcl_string(str(value))}\n" for key, value in values.items())
        yield (
            f"override_resource {{\n  target = {change['address']}\n  values = {{\n{body}  }}\n}}\n"
        )


def render_test_file(port: int, artifacts: Path, plan: Mapping[str, Any] | None) -> str:
    """The render test: pass 1 plans; pass 2 applies with every resource overridden."""
    parts = [
        "# Written by scripts/tf_render.py: renders this environment offline (nothing created).\n",
        provider_block(port),
        *(overrides(plan) if plan is not None else ()),
        f"variables {{\n  artifacts_dir = {_hcl_string(str(artifacts))}\n}}\n",
        f'run "render" {{\n  command = {"plan" if plan is None else "apply"}\n}}\n',
    ]
    return "\n".join(parts)


def _terraform_test(root: Path) -> dict[str, Any]:
    """Run the render test in ``root``; return the plan it printed."""
    result = subprocess.run(  # nosec B603 B607  # a fixed terraform command line, from PATH
        ["terraform", "test", "-verbose", "-json", "-no-color", f"-filter={TEST_FILE}"],
        cwd=root,
        check=False,
        text=True,
        capture_output=True,
        timeout=TIMEOUT_SECONDS,
    )
    plan: dict[str, Any] | None = None
    problems: list[str] = []
    for line in result.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        for kind in ("test_plan", "test_state"):
            if kind in message:
                plan = message[kind]
        if message.get("@level") == "error":
            diagnostic = message.get("diagnostic", {})
            problems.append(f"{diagnostic.get('summary', '')}: {diagnostic.get('detail', '')}")
    if result.returncode != 0 or plan is None:
        detail = "; ".join(problems) or (result.stderr or result.stdout)[-3000:]
        raise RenderError(f"terraform test in {root} failed: {detail}")
    return plan


def render(env_root: Path, env: str, out: Path, artifacts: Path, port: int) -> dict[str, Any]:
    """Render ``env_root`` (an initialised environment root of the offline copy).

    Returns
    -------
    dict[str, Any]
        The rendered state (Terraform's JSON state format, without the provider schemas),
        also written to ``out/ENV/state.json``.
    """
    test_path = env_root / TEST_FILE
    test_path.parent.mkdir(parents=True, exist_ok=True)
    test_path.write_text(render_test_file(port, artifacts, None), encoding="utf-8")
    first = _terraform_test(env_root)
    test_path.write_text(render_test_file(port, artifacts, first), encoding="utf-8")
    state = _terraform_test(env_root)
    state.pop("provider_schemas", None)
    resources = list(state_resources(state))
    unknown = [
        f"{resource['address']}.{attribute}"
        for resource in resources
        if (attribute := POLICY_ATTRIBUTES.get(resource["type"]))
        and not (resource.get("values") or {}).get(attribute)
    ]
    if unknown:
        raise RenderError(f"{env}: not rendered: {', '.join(unknown)}")
    target = out / env
    target.mkdir(parents=True, exist_ok=True)
    _write(target / "state.json", json.dumps(state, indent=1) + "\n")
    definitions = [
        r["values"]["definition"] for r in resources if r["type"] == "aws_sfn_state_machine"
    ]
    if len(definitions) != 1:
        raise RenderError(f"{env}: expected one state machine, found {len(definitions)}")
    _write(
        target / "state_machine.asl.json", json.dumps(json.loads(definitions[0]), indent=2) + "\n"
    )
    return state


def _write(path: Path, text: str) -> None:
    """Write ``text`` whole or not at all (readers may run while tf-check does)."""
    temporary = path.with_suffix(f"{path.suffix}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def state_resources(state: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every resource of a Terraform JSON state (``terraform show -json``), modules included."""
    values = state.get("values", state)

    def walk(module: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        yield from module.get("resources", [])
        for child in module.get("child_modules", []):
            yield from walk(child)

    yield from walk(values.get("root_module", {}))


#: The rendered text each kind of resource must carry.
POLICY_ATTRIBUTES: Final[Mapping[str, str]] = {
    "aws_iam_role_policy": "policy",
    "aws_sqs_queue_policy": "policy",
    "aws_sns_topic_policy": "policy",
    "aws_s3_bucket_policy": "policy",
    "aws_iam_role": "assume_role_policy",
    "aws_sfn_state_machine": "definition",
}


def render_all(offline: Path, environments: tuple[str, ...], out: Path = OUT) -> dict[str, Path]:
    """Render every environment of the offline copy (at once); return where each went."""
    artifacts = stand_in_artifacts(offline / "render-artifacts").resolve()
    port = free_port()

    def one(env: str) -> Path:
        started = time.monotonic()
        render(offline / "terraform" / "environments" / env, env, out, artifacts, port)
        written = out / env / "state.json"
        shown = written.relative_to(REPO_ROOT) if written.is_relative_to(REPO_ROOT) else written
        print(
            f"tf-check: ok   rendered environments/{env} as deployed "
            f"({time.monotonic() - started:.1f} s): {shown}, state_machine.asl.json",
            flush=True,
        )
        return written

    with moto_server(port, offline / "render-moto.log"), ThreadPoolExecutor(2) as pool:
        return dict(zip(environments, pool.map(one, environments), strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offline", type=Path, default=REPO_ROOT / "build" / "tf-offline")
    parser.add_argument("--env", action="append", dest="environments")
    args = parser.parse_args()
    os.environ.setdefault("TF_IN_AUTOMATION", "1")
    try:
        render_all(args.offline, tuple(args.environments or ("dev", "prod")))
    except (RenderError, RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"tf-render: FAILED: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
