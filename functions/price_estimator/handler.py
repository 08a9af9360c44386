"""Estimate-price step: one album per invocation (a branch of the Map state).

Runs the shared price estimator (deterministic by default, so both patterns produce the
same prices) on one validated album and returns ``priceEstimate``, ``priceConfidence``
(0..1) and ``priceSource``. One album's failure never stops the other five: the state
machine's Map catches per item.

Lambda handler string: ``price_estimator.handler.handler``
(the zip holds ``price_estimator/`` at its root).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point (placeholder until the price-estimation issue lands).

    Raises
    ------
    NotImplementedError
        Always, until the step is implemented.
    """
    raise NotImplementedError("price_estimator: implemented by the price-estimation issue")
