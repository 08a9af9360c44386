"""Estimate-price step: one album per invocation (a branch of the Map state)."""
