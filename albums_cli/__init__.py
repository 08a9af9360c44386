"""The ``albums`` command line: the local demo, reports, benchmarks, and a deployed environment."""
