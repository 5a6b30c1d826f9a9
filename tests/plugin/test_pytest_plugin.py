"""The pytest plugin, run in a pytester sandbox: the fixture, the assertion message, scenario files as items,
and --evtool-transport on a real broker."""

from __future__ import annotations

import importlib.metadata
import textwrap

import pytest

pytest_plugins = ["pytester"]

SCENARIO = """\
evtool: "1"
id: {id}
run: {{seed: 1, duration: 3s}}
channels:
  orders: {{kind: queue}}
producers:
  checkout: {{to: orders, message: OrderPlaced, arrival: {{process: constant, rate: 5/s}}}}
consumers:
  billing: {{from: orders, processing: 5ms}}
expect:
  - {{name: nothing-lost, check: no_loss, channel: orders}}
  - {{name: fast, that: "p(99, latency.e2e) < {limit}"}}
"""


def _plugin_args() -> list[str]:
    """`-p evtool.pytest_plugin` unless the installed package registers it already (pytest11 entry point)."""
    names = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    # the snapshot plugin's session hooks do not survive a nested in-process session
    off = ["-p", "no:textual-snapshot"]
    return off if "evtool.pytest_plugin" in names else [*off, "-p", "evtool.pytest_plugin"]


@pytest.fixture
def sandbox(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("EVTOOL_CONFIG", "")
    monkeypatch.delenv("EVTOOL_DB", raising=False)
    return pytester


def test_fixture_and_readable_failure(sandbox: pytest.Pytester) -> None:
    sandbox.makefile(".yaml", slow=SCENARIO.format(id="slow", limit="1ms"))
    sandbox.makepyfile(textwrap.dedent("""
        from evtool.pytest_plugin import assert_passed

        def test_lesson_passes(evtool_run):
            result = evtool_run("retries-dlq-poison", seed=7)
            assert_passed(result)
            assert result.transport == "local"

        def test_slow_fails(evtool_run):
            assert_passed(evtool_run("slow.yaml"))

        def test_only_named_checks(evtool_run):
            assert_passed(evtool_run("slow.yaml"), "nothing-lost")
    """))
    res = sandbox.runpytest(*_plugin_args())
    res.assert_outcomes(passed=2, failed=1)
    out = res.stdout.str()
    assert "scenario slow failed (seed 1, transport local" in out
    assert "✗ fast (fail)" in out
    assert "expected: p(99, latency.e2e) < 1ms" in out
    assert "observed: p99 5 ms, limit 1 ms" in out
    assert "re-run: evtool run slow.yaml --seed 1" in out


def test_scenario_files_as_items(sandbox: pytest.Pytester) -> None:
    sandbox.makeini("[pytest]\nevtool_scenarios = scenarios/*.yaml\n")
    d = sandbox.mkdir("scenarios")
    (d / "good.yaml").write_text(SCENARIO.format(id="good", limit="1s"))
    (d / "slow.yaml").write_text(SCENARIO.format(id="slow", limit="1ms"))
    (d / "broken.yaml").write_text("evtool: '1'\nid: broken\nrun: {seed: 1, duration: 3}\n")
    sandbox.makefile(".yaml", elsewhere=SCENARIO.format(id="elsewhere", limit="1s"))  # not opted in
    res = sandbox.runpytest(*_plugin_args(), "-v")
    res.assert_outcomes(passed=1, failed=2)
    out = res.stdout.str()
    assert "scenarios/good.yaml::good PASSED" in out
    assert "scenarios/slow.yaml::slow FAILED" in out
    assert "elsewhere" not in out
    assert "broken.yaml:3:" in out and "run.duration: a duration needs a unit" in out
    assert "✗ fast (fail)" in out and "Traceback" not in out


def test_one_item_per_check(sandbox: pytest.Pytester) -> None:
    sandbox.makeini("[pytest]\nevtool_scenarios = scenarios/*.yaml\nevtool_items = check\n")
    d = sandbox.mkdir("scenarios")
    (d / "slow.yaml").write_text(SCENARIO.format(id="slow", limit="1ms"))
    res = sandbox.runpytest(*_plugin_args(), "-v")
    res.assert_outcomes(passed=1, failed=1)
    out = res.stdout.str()
    assert "slow.yaml::slow::nothing-lost PASSED" in out
    assert "slow.yaml::slow::fast FAILED" in out


def test_transport_option_reaches_the_fixture(sandbox: pytest.Pytester) -> None:
    sandbox.makepyfile("def test_t(evtool_transport):\n    assert evtool_transport == 'nats'\n")
    sandbox.runpytest(*_plugin_args(), "--evtool-transport", "nats").assert_outcomes(passed=1)
    res = sandbox.runpytest(*_plugin_args(), "--evtool-transport", "carrier-pigeon")
    assert res.ret != 0
    assert "invalid choice" in res.stderr.str()


@pytest.mark.broker
def test_same_test_on_rabbitmq(sandbox: pytest.Pytester, rabbitmq_url: str) -> None:
    """The same test, run on the real RabbitMQ with one flag."""
    sandbox.makefile(".yaml", good=SCENARIO.format(id="good", limit="2s"))
    sandbox.makepyfile(textwrap.dedent("""
        from evtool.pytest_plugin import assert_passed

        def test_good(evtool_run):
            result = evtool_run("good.yaml")
            assert result.transport == "rabbitmq"
            assert_passed(result)
    """))
    res = sandbox.runpytest(*_plugin_args(), "--evtool-transport", "rabbitmq", "--evtool-url", rabbitmq_url)
    res.assert_outcomes(passed=1)


def test_entry_point_is_declared() -> None:
    import tomllib
    from pathlib import Path

    data = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert data["project"]["entry-points"]["pytest11"] == {"evtool": "evtool.pytest_plugin"}
