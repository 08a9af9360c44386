"""Reviewer API: list pending validation tasks, submit corrections or reject."""
