"""Test-wide settings: no real AWS, fixed region, hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from localmode import aws_calls

#: Names the file the suite's recorded AWS calls go to (unset: nothing is recorded).
RECORD_CALLS_VARIABLE = "ALBUMS_AWS_CALLS_OUT"

# Nothing in the tests may reach real AWS: fake credentials, a fixed region, and no
# credential lookups outside the process.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "AlbumRegistrationTests",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)

# Property tests run at least 100 examples each (the seeds ask for it); no deadline,
# because moto-backed examples vary in speed on a loaded 2-core machine.
settings.register_profile(
    "default",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)

# Every AWS call the functions, the orchestrator and the state machine make in the suite is
# recorded (localmode/aws_calls.py) when ALBUMS_AWS_CALLS_OUT names a file: `make test`
# sets it, then scripts/iam_coverage.py checks each call against the IAM policies
# Terraform renders. moto enforces no IAM, so this is what stands between a missing grant
# and a deployment that fails its first upload.
_RECORDING: Any = None


def pytest_configure(config: pytest.Config) -> None:
    global _RECORDING  # noqa: PLW0603 - one recording per test session
    if os.environ.get(RECORD_CALLS_VARIABLE):
        _RECORDING = aws_calls.recording()
        _RECORDING.__enter__()


def pytest_unconfigure(config: pytest.Config) -> None:
    global _RECORDING  # noqa: PLW0603
    if _RECORDING is None:
        return
    recorder = aws_calls.active()
    _RECORDING.__exit__(None, None, None)
    _RECORDING = None
    if recorder is not None:
        path = recorder.write(Path(os.environ[RECORD_CALLS_VARIABLE]))
        print(f"\naws-calls: recorded the suite's AWS calls in {path}")
