"""**Feature: album-registration-system, Property 2: Unique Execution IDs** — *For any* set of
workflow invocations, all execution IDs should be unique across both patterns
(Validates: Requirements 1.2)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain import keys, models
from albums.domain.models import WorkflowType

# What the services hand out: Step Functions execution names (letters, digits, - _ . and
# more), uuid-like names, and durable execution ARNs.
native_names = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=80),
    st.uuids().map(str),
    st.uuids().map(
        lambda u: (
            "arn:aws:lambda:us-east-1:123456789012:function:orchestrator:live"
            f"/durable-execution/{u}/{u.hex[:8]}"
        )
    ),
)


@pytest.mark.property
@given(names=st.sets(native_names, min_size=1, max_size=40))
def test_execution_ids_are_unique_across_both_patterns(names: set[str]) -> None:
    # The same native name may be used by both services; the ids must still differ.
    invocations = [(pattern, name) for name in names for pattern in WorkflowType]
    natives = {(pattern, _execution_name(name)) for pattern, name in invocations}
    ids = [keys.execution_id_for(pattern, name) for pattern, name in invocations]
    assert len(set(ids)) == len(natives)
    for execution_id in ids:
        assert models.check_execution_id(execution_id) == execution_id


@pytest.mark.property
@given(count=st.integers(min_value=1, max_value=200))
def test_fresh_names_give_unique_ids(count: int) -> None:
    ids = {
        keys.execution_id_for(pattern, keys.new_native_id())
        for pattern in WorkflowType
        for _ in range(count)
    }
    assert len(ids) == 2 * count


def _execution_name(native: str) -> str:
    """The execution name a native id stands for (two ARNs of one execution are one name)."""
    marker = "/durable-execution/"
    if marker in native:
        return native.split(marker, 1)[1].split("/", 1)[0]
    return native.rsplit(":", 1)[-1]
