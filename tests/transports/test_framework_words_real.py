"""A run on a real broker speaks a retry preset's words too (the report of `evtool run --transport`)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.broker


def test_the_rabbitmq_run_report_speaks_spring_cloud_streams_words(rabbitmq_url: str) -> None:
    from evtool.cli.app import app

    res = CliRunner().invoke(app, ["run", "retry-broker-or-framework", "--transport", "rabbitmq", "--url",
                                   rabbitmq_url, "--no-record", "--set", "run.duration=3s",
                                   "--set", "producers.checkout.inject[0].at=500ms"], env={"COLUMNS": "200"})
    assert res.exit_code in (0, 1), res.output  # 3 s is too short for payments-keep-flowing: that check fails
    assert "maxAttempts 3 (counts the first delivery)" in res.output
    assert "then the binder's DLQ payments.dlq" in res.output and "further attempts (RetryTemplate) 2" in res.output
