"""evtool's pytest plugin (registered through the `pytest11` entry point `evtool`).

- the fixture `evtool_run(scenario, **options)`: `evtool.api.run` on the transport chosen with
  `--evtool-transport` (local by default), returning the `RunResult`;
- `assert_passed(result)`: fails with every check that did not pass, its expected and observed values and its
  evidence message ids, in the words of evtool's report;
- scenario files as test items when a project opts in with the ini option `evtool_scenarios` (globs relative to
  the rootdir), one item per scenario, or one per check with `evtool_items = check`;
- `--evtool-transport rabbitmq` (nats, redis, kafka, sqs) runs the same tests on a real broker,
  `--evtool-url` says where, `--evtool-record` records every run into the run store.

Nothing of evtool is imported until a test uses it, so the plugin costs nothing to projects that do not.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from evtool.api import RunResult

TRANSPORTS = ("local", "rabbitmq", "nats", "redis", "kafka", "sqs")


class EvtoolCheckFailed(AssertionError):
    """A run whose checks did not all pass; the message is the report's account of them."""


def assert_passed(result: RunResult, *checks: str) -> None:
    """Fail unless the run passed (or, given check names, unless those checks passed).

    The failure message lists each check that did not pass with its expected and observed values, the
    evidence message ids and the command that re-runs the scenario.
    """
    __tracebackhide__ = True
    if checks:
        wanted = [result.check(name) for name in checks]
        bad = [c for c in wanted if not c.passed]
        if bad:
            lines = [f"scenario {result.scenario.id}: {len(bad)} of the checks asked for did not pass "
                     f"(seed {result.seed}, transport {result.transport})"]
            for c in bad:
                lines.extend("  " + line for line in c.describe().splitlines())
            lines.append(f"re-run: {result.report.get('rerun', '')}")
            raise EvtoolCheckFailed("\n".join(lines))
        return
    if not result.passed:
        raise EvtoolCheckFailed(result.explain())


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evtool", "evtool scenarios")
    group.addoption("--evtool-transport", default=None, choices=TRANSPORTS,
                    help="Run evtool scenarios on this transport: local (default) or a real broker.")
    group.addoption("--evtool-url", default=None, help="The broker URL for --evtool-transport (default: the "
                                                       "configuration, EVTOOL_<BROKER>_URL, or the local default).")
    group.addoption("--evtool-record", action="store_true", default=False,
                    help="Record every evtool run into the run store (evtool runs / show).")
    parser.addini("evtool_scenarios", type="linelist", default=[],
                  help="Globs of evtool scenario files to collect as tests (relative to the rootdir).")
    parser.addini("evtool_items", default="scenario",
                  help="`scenario`: one test item per scenario file; `check`: one per check.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "evtool: an evtool scenario run as a test")


def _transport(config: pytest.Config) -> str:
    return str(config.getoption("--evtool-transport") or "local")


def _options(config: pytest.Config) -> dict[str, Any]:
    return {"transport": _transport(config), "url": config.getoption("--evtool-url"),
            "record": bool(config.getoption("--evtool-record"))}


@pytest.fixture
def evtool_transport(request: pytest.FixtureRequest) -> str:
    """The transport the evtool tests run on (`--evtool-transport`, default local)."""
    return _transport(request.config)


@pytest.fixture
def evtool_run(request: pytest.FixtureRequest) -> Callable[..., RunResult]:
    """Run a scenario (anything `evtool.api.load` takes) and return its `RunResult`.

    Keyword options are those of `evtool.api.run`; transport, url and record default to the command line's
    `--evtool-transport`, `--evtool-url` and `--evtool-record`.
    """
    defaults = _options(request.config)

    def run(scenario: Any, **options: Any) -> RunResult:
        from evtool import api

        return api.run(scenario, **{**defaults, **options})

    return run


# ---------------------------------------------------------------------------------------------- collection


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    patterns = parent.config.getini("evtool_scenarios")
    if not patterns or file_path.suffix not in (".yaml", ".yml"):
        return None
    root = Path(str(parent.config.rootpath))
    try:
        rel = file_path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
    if any(fnmatch.fnmatch(rel, str(p)) or file_path.resolve().match(str(p)) for p in patterns):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """A scenario file: one item, or one per check (`evtool_items = check`)."""

    _result: RunResult | None = None
    _error: BaseException | None = None

    def collect(self) -> Iterator[pytest.Item]:
        mode = str(self.config.getini("evtool_items") or "scenario").strip()
        if mode not in ("scenario", "check"):
            raise pytest.UsageError(f"evtool_items = {mode!r}: expected `scenario` or `check`")
        from evtool import api

        try:
            scenario = api.load(self.path)
        except api.ScenarioInvalid as exc:
            yield ScenarioItem.from_parent(self, name=self.path.stem, scenario=None, check=None, invalid=exc)
            return
        if mode == "check" and scenario.check_names:
            for name in scenario.check_names:
                yield ScenarioItem.from_parent(self, name=f"{scenario.id}::{name}", scenario=scenario, check=name)
        else:
            yield ScenarioItem.from_parent(self, name=scenario.id, scenario=scenario, check=None)

    def result(self, scenario: Any) -> RunResult:
        """The file's run, made once for all its check items."""
        if self._error is not None:
            raise self._error
        if self._result is None:
            from evtool import api

            try:
                self._result = api.run(scenario, **_options(self.config))
            except BaseException as exc:
                self._error = exc
                raise
        return self._result


class ScenarioItem(pytest.Item):
    """One scenario run (or one check of it) as a test."""

    def __init__(self, *, scenario: Any, check: str | None, invalid: BaseException | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.check = check
        self.invalid = invalid
        self.add_marker("evtool")

    def runtest(self) -> None:
        if self.invalid is not None:
            raise self.invalid
        assert isinstance(self.parent, ScenarioFile)
        result = self.parent.result(self.scenario)
        if self.check is not None:
            assert_passed(result, self.check)
        else:
            assert_passed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        from evtool import api

        if isinstance(excinfo.value, EvtoolCheckFailed | api.ScenarioInvalid | api.TransportMissing):
            return str(excinfo.value)
        if type(excinfo.value).__name__ in ("TransportUnavailable", "TransportError"):
            return f"{type(excinfo.value).__name__}: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"evtool scenario {self.name}"
