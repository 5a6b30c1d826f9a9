"""`evtool run --junit FILE`: one test case per check; failures and unknowns carry expected, observed, evidence."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

from evtool.report.junit import junit_xml

ROOT = Path(__file__).resolve().parents[2]


def _evtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EVTOOL_CONFIG": "", "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-m", "evtool", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_run_writes_one_case_per_check(tmp_path: Path) -> None:
    out = tmp_path / "report.xml"
    res = _evtool("run", "retries-dlq-poison", "--no-record", "-q", "--set", "consumers.billing.retry.max_attempts=1",
                  "--junit", str(out), cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    root = ET.parse(out).getroot()
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "retries-dlq-poison"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == ["nothing-lost", "poison-attempts", "charged-once", "transient-retried", "latency",
                           "queue-bounded"]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "2", "0")
    failure = cases["poison-attempts"].find("failure")
    assert failure is not None and failure.get("type") == "dead_letters"
    assert failure.get("message") == "poison-attempts: 129 dead letter(s)"
    assert "expected: orders.dlq: 3 dead letter(s)" in (failure.text or "")
    assert "evidence: checkout-16, checkout-54" in (failure.text or "")
    assert cases["nothing-lost"].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["seed"] == "7" and props["rerun"].startswith("evtool run retries-dlq-poison --seed 7")


def test_passing_run(tmp_path: Path) -> None:
    out = tmp_path / "ok.xml"
    assert _evtool("run", "retries-dlq-poison", "--no-record", "--json", "--junit", str(out),
                   cwd=tmp_path).returncode == 0
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and suite.get("errors") == "0"
    assert not list(suite.iter("failure"))


def test_unknown_is_an_error_and_text_is_xml_safe() -> None:
    report = {"scenario": "s", "outcome": "unknown", "seed": 1, "rerun": "evtool run s",
              "checks": [{"name": "lat\x1b[31m", "check": "that", "status": "unknown", "expected": "p99 < 1s",
                          "observed": "no data", "evidence": [], "because": None}]}
    root = ET.fromstring(junit_xml(report))
    err = root.find("testsuite/testcase/error")
    assert err is not None and err.get("message") == "lat[31m: no data"
    assert root.get("errors") == "1" and root.get("failures") == "0"


def test_run_without_checks_is_one_case() -> None:
    root = ET.fromstring(junit_xml({"scenario": "s", "outcome": "unknown", "drain": "timed_out", "checks": []}))
    cases = root.findall("testsuite/testcase")
    assert len(cases) == 1 and cases[0].find("error") is not None
    root = ET.fromstring(junit_xml({"scenario": "s", "outcome": "passed", "checks": []}))
    assert root.find("testsuite/testcase/error") is None


def test_invalid_scenario_is_one_error_with_its_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('evtool: "1"\nid: bad\nrun: {seed: 1, duration: 30}\n')
    out = tmp_path / "bad.xml"
    res = _evtool("run", str(bad), "--no-record", "--junit", str(out), cwd=tmp_path)
    assert res.returncode == 2
    root = ET.parse(out).getroot()
    err = root.find("testsuite/testcase/error")
    assert err is not None and err.get("type") == "invalid"
    assert f"{bad}:3:26: error: run.duration: a duration needs a unit" in (err.text or "")
    assert "missing required key `channels`" in (err.text or "")
    assert root.get("errors") == "1"
