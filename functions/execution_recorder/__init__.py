"""Execution recorder: measured transitions, duration and metrics of ended executions."""
