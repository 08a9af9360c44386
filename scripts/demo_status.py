"""What `make demo` does until the local mode exists: say so, and say what it will run.

The local mode (both patterns end to end on in-process AWS emulation) arrives with the
Step Functions, durable and demo issues. Until then this prints the plan and a check of
the pieces that do exist, and never pretends to run a workflow.
"""

from __future__ import annotations

import sys

from albums.domain import cost
from albums.domain.models import Album
from albums.domain.pricing import DeterministicPriceEstimator

PLAN = """\
make demo — local mode is not built yet.

When it is, `make demo` will:
  1. put sample photos of six records into a local uploads bucket (moto, in-process);
  2. let one EventBridge rule start both patterns for each upload:
     the Step Functions state machine (real ASL, executed by moto) and the
     durable function (real checkpoint/replay, under the durable SDK's test runner);
  3. answer each human validation with scripted year corrections;
  4. wait for every execution, then write out/demo/report.{json,md} and charts that
     compare latency, cost per 1,000 workflows and reliability of the two patterns.

What exists today is the shared foundation both patterns will run on (`make test`):
"""


def main() -> int:
    """Print the plan and a short, real check of the domain pieces."""
    print(PLAN)
    estimator = DeterministicPriceEstimator()
    album = Album(index=1, album_name="Kind of Blue", artist="Miles Davis", year=1959)
    estimate = estimator.estimate(album)
    prices = cost.load_price_table()
    print(
        f"  - deterministic price estimator: {album.artist} — {album.album_name} ({album.year})"
        f" -> ${estimate.price_estimate} (confidence {estimate.price_confidence},"
        f" source {estimate.price_source})"
    )
    print(f"  - cost model prices as of {prices.as_of} ({prices.region})")
    print("\nNo workflow was run.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
