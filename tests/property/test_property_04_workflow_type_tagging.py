"""**Feature: album-registration-system, Property 4: Workflow Type Tagging** — *For any*
execution, the workflowType attribute should correctly identify the orchestration pattern
(Validates: Requirements 1.4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albums.domain import keys
from albums.domain.models import WorkflowType

patterns = st.sampled_from(list(WorkflowType))


@pytest.mark.property
@given(pattern=patterns, native=st.uuids().map(str))
def test_execution_ids_and_keys_identify_the_pattern(pattern: WorkflowType, native: str) -> None:
    execution_id = keys.execution_id_for(pattern, native)
    assert keys.workflow_type_of_execution(execution_id) is pattern
    partition = keys.execution_pk(pattern, execution_id)
    assert partition.startswith(f"{pattern.tenant}#")
    assert keys.execution_id_from_pk(partition) == (pattern, execution_id)
    assert keys.executions_gsi1pk(pattern).startswith(f"{pattern.tenant}#")
    assert keys.task_id_for(pattern, execution_id).startswith(f"{pattern.tenant}-")
