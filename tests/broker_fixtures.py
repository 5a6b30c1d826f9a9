"""Fixtures for tests that need a real broker: a reachable URL, or a skip that says how to start one.

Under ``CI=true`` an unreachable broker fails the test instead of skipping it.
"""

from __future__ import annotations

import os

import pytest

from evtool.transports.base import probe, resolve_url


def _url(transport: str) -> str:
    why = probe(transport)
    if why is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {why}")
        pytest.skip(why)
    return resolve_url(transport)


@pytest.fixture
def rabbitmq_url() -> str:
    """RabbitMQ's URL (EVTOOL_RABBITMQ_URL or amqp://guest:guest@127.0.0.1:5672/)."""
    return _url("rabbitmq")


@pytest.fixture
def nats_url() -> str:
    """NATS's URL (EVTOOL_NATS_URL or nats://127.0.0.1:4222)."""
    return _url("nats")


@pytest.fixture
def redis_url() -> str:
    """Redis's URL (EVTOOL_REDIS_URL or redis://127.0.0.1:6379/0)."""
    return _url("redis")


@pytest.fixture(params=["rabbitmq", "nats", "redis"])
def broker(request: pytest.FixtureRequest) -> tuple[str, str]:
    """Each real broker in turn: (transport name, URL)."""
    return request.param, _url(request.param)


@pytest.fixture
def kafka_url() -> str:
    """Kafka's URL (EVTOOL_KAFKA_URL or kafka://127.0.0.1:9092; .ci/run starts Tansu there)."""
    return _url("kafka")


@pytest.fixture
def sqs_url() -> str:
    """The SQS endpoint (EVTOOL_SQS_URL or http://127.0.0.1:5000; .ci/run starts moto's server there)."""
    return _url("sqs")
