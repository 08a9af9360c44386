"""A moto server for ``make tf-smoke``, with the two Step Functions calls moto 5.2 lacks.

The AWS provider calls ``ValidateStateMachineDefinition`` before it creates a state machine
and ``ListStateMachineVersions`` when it reads or deletes one; moto 5.2.5 implements
neither. This harness (test code only, never the product) adds both before starting the
server: validation answers OK (``terraform test`` and the ASL checks validate the
definition), and a state machine has no published versions. It also sets
``MOTO_IAM_LOAD_MANAGED_POLICIES=true`` so AWS managed policies can be referenced.

Run: ``python scripts/tf_moto_server.py --port 5123`` (listens on 127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.server import main as moto_main
from moto.stepfunctions.responses import StepFunctionResponse


def _validate_state_machine_definition(_self: StepFunctionResponse) -> str:
    return json.dumps({"result": "OK", "diagnostics": [], "truncated": False})


def _list_state_machine_versions(_self: StepFunctionResponse) -> str:
    return json.dumps({"stateMachineVersions": []})


def patch() -> None:
    """Add the two missing actions to moto's Step Functions responses."""
    for name, method in (
        ("validate_state_machine_definition", _validate_state_machine_definition),
        ("list_state_machine_versions", _list_state_machine_versions),
    ):
        if not hasattr(StepFunctionResponse, name):
            setattr(StepFunctionResponse, name, method)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    patch()
    moto_main(["-H", "127.0.0.1", "-p", str(args.port)])


if __name__ == "__main__":
    main()
