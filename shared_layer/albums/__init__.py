"""Album registration: the domain and AWS adapters both orchestration patterns share.

``albums.domain`` is pure Python (no boto3): models, key rules, vision parsing, pricing,
cost model. ``albums.adapters`` holds the thin AWS adapters; each takes its boto3 client
as an argument. ``albums.observability`` sets up Powertools logging, metrics and tracing.
"""

__version__ = "0.1.0"
