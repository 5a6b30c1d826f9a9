"""benchmarks/sqs_endpoint.py starts an SQS endpoint on a free port of 127.0.0.1 and stops it afterwards.

Checked with moto (in the test extra); fauxqs installs from npm (about 230 MB) and is for the benchmark only.
"""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import pytest
from benchmark_modules import load


def _endpoints():
    return load("sqs_endpoint")


def _open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_an_unknown_endpoint_is_refused_with_the_choices() -> None:
    with pytest.raises(SystemExit, match="fauxqs, moto"), _endpoints().started("elasticmq"):
        pass


@pytest.mark.skipif(not Path(sys.executable).with_name("moto_server").exists() and not shutil.which("moto_server"),
                    reason="moto_server is not installed beside this interpreter (pip install 'moto[server]')")
def test_moto_answers_sqs_calls_on_its_port_and_is_stopped_after() -> None:
    import boto3

    with _endpoints().started("moto") as url:
        host, port = url.removeprefix("http://").split(":")
        assert host == "127.0.0.1"
        client = boto3.client("sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x")
        queue = client.create_queue(QueueName="bench-endpoint")["QueueUrl"]
        client.send_message(QueueUrl=queue, MessageBody="hello")
        got = client.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"]
        assert [m["Body"] for m in got] == ["hello"]
    assert not _open(int(port)), "the endpoint still listens after the benchmark is done with it"
