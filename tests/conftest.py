"""Test-wide settings: no real AWS, fixed region, hypothesis profiles."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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
