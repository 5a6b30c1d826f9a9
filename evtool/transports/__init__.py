"""Real brokers: run a scenario on RabbitMQ, NATS JetStream, Redis Streams, Kafka or Amazon SQS (docs/transports.md).

The public entry points::

    from evtool.transports import run_on_transport, capabilities, compare_runs, format_comparison

The broker clients (aiormq, nats-py, redis, aiokafka, aiobotocore) are imported only when a run needs them.
"""

from evtool.transports.base import (
    ENV_VARS,
    TRANSPORTS,
    TransportError,
    TransportUnavailable,
    probe,
    redact_url,
    resolve_url,
)
from evtool.transports.capabilities import capabilities
from evtool.transports.runner import (
    compare_runs,
    comparison_rows,
    format_comparison,
    run_on_transport,
    run_on_transport_async,
)

__all__ = [
    "ENV_VARS",
    "TRANSPORTS",
    "TransportError",
    "TransportUnavailable",
    "capabilities",
    "compare_runs",
    "comparison_rows",
    "format_comparison",
    "probe",
    "redact_url",
    "resolve_url",
    "run_on_transport",
    "run_on_transport_async",
]
