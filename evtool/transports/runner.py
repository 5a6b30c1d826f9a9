"""Run a scenario on a real broker (or on several, side by side) and get the engine's `RunOutcome`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from evtool.core.profiles import get_profile
from evtool.scenario.loader import LoadedScenario, load_text
from evtool.sim.engine import Engine, Listener, RunOutcome
from evtool.transports.base import (
    PATTERN_TRANSPORTS,
    PROFILE_BROKER,
    PROFILE_OF,
    Transport,
    check_transport,
    new_prefix,
    redact_url,
    resolve_url,
)
from evtool.transports.capabilities import capabilities
from evtool.transports.check_notes import not_applicable
from evtool.transports.runtime import RealtimeRun
from evtool.transports.topology import build_topology

CLEANUP_TIMEOUT_S = 15.0


def broker_profile(loaded: LoadedScenario, transport: str) -> str:
    """The profile a run on `transport` behaves as: the scenario's own when it describes that broker
    (``rabbitmq-classic`` on RabbitMQ), else the broker's (`PROFILE_OF`)."""
    check_transport(transport)
    own = loaded.model.broker.profile
    try:
        if get_profile(own).broker == PROFILE_BROKER[transport]:
            return own
    except KeyError:
        pass
    return PROFILE_OF[transport]


def under_profile(loaded: LoadedScenario, profile: str) -> LoadedScenario:
    """`loaded` validated again with ``broker.profile`` set to `profile` (itself when it already is); a
    ScenarioError says what the other profile refuses (e.g. ``start_from: earliest`` on a RabbitMQ topic)."""
    if loaded.model.broker.profile == profile:
        return loaded
    return load_text(loaded.text, str(loaded.path), {**loaded.overrides, "broker.profile": profile})


def make_transport(name: str, url: str, loaded: LoadedScenario | None = None) -> Transport:
    """The adapter for `name` at `url` (clients are imported only here, when needed)."""
    check_transport(name)
    if name == "rabbitmq":
        from evtool.transports.amqp import RabbitMQTransport

        classic = loaded is not None and (loaded.model.broker.profile == "rabbitmq-classic"
                                          or loaded.model.broker.persistence == "memory")
        return RabbitMQTransport(url, classic=classic)
    if name == "nats":
        from evtool.transports.jetstream import NatsTransport

        return NatsTransport(url)
    if name == "kafka":
        from evtool.transports.kafka import KafkaTransport

        return KafkaTransport(url, loaded)
    if name == "sqs":
        from evtool.transports.sqs import SqsTransport

        return SqsTransport(url, loaded)
    from evtool.transports.redis_streams import RedisTransport

    return RedisTransport(url)


async def run_on_transport_async(loaded: LoadedScenario, transport: str, *, url: str | None = None,
                                 keep: bool = False, seed: int | None = None, duration_ns: int | None = None,
                                 listeners: Sequence[Listener] = (), prefix: str | None = None,
                                 limits: Any = None) -> RunOutcome:
    """Run `loaded` on a real broker in real time; the outcome carries the same checks as a local run.

    ``outcome.extra`` holds: transport, url (password redacted), prefix, server, warnings (from
    `capabilities`), problems (broker-side errors seen during the run), kept (names left on the broker),
    wall_s. Raises TransportUnavailable when the broker cannot be reached.
    """
    check_transport(transport)
    real_url = resolve_url(transport, url)
    warnings = capabilities(loaded, transport)
    scenario_profile = loaded.model.broker.profile
    loaded = under_profile(loaded, broker_profile(loaded, transport))
    adapter = make_transport(transport, real_url, loaded)
    topo = build_topology(loaded.model, prefix or new_prefix(), patterns=transport in PATTERN_TRANSPORTS)
    await adapter.connect()
    started = time.monotonic()
    run: RealtimeRun | None = None
    try:
        await adapter.declare(topo, _LateSink())
        run = RealtimeRun(loaded, adapter, topo, seed=seed, duration_ns=duration_ns, listeners=listeners,
                          limits=limits)
        adapter.sink = run.broker  # type: ignore[attr-defined]
        outcome = await run.run_async()
        await run.settle()
    finally:
        try:
            stop = getattr(adapter, "stop_consumers", None)
            if keep and stop is not None:
                await asyncio.wait_for(stop(), CLEANUP_TIMEOUT_S)
            elif not keep:
                await asyncio.wait_for(adapter.cleanup(), CLEANUP_TIMEOUT_S)
        finally:
            await adapter.close()
    problems = list(run.broker.problems) if run is not None else []
    outcome.extra.update({
        "transport": transport, "url": redact_url(real_url), "prefix": topo.prefix,
        "server": getattr(adapter, "server_version", ""), "profile": loaded.model.broker.profile,
        "scenario_profile": scenario_profile,
        "warnings": warnings, "problems": problems, "kept": keep, "wall_s": round(time.monotonic() - started, 3),
        "not_applicable": not_applicable(loaded, transport),
    })
    if problems and outcome.outcome == "passed":
        outcome.outcome = "unknown"
    return outcome


def run_on_transport(loaded: LoadedScenario, transport: str, *, url: str | None = None, keep: bool = False,
                     seed: int | None = None, duration_ns: int | None = None,
                     listeners: Sequence[Listener] = (), limits: Any = None) -> RunOutcome:
    """Synchronous wrapper of `run_on_transport_async` for the CLI (`limits`: the run's budget, as
    `evtool.sim.engine.limits_for` gives it; None = the scenario's `run.budget`)."""
    return asyncio.run(run_on_transport_async(loaded, transport, url=url, keep=keep, seed=seed,
                                              duration_ns=duration_ns, listeners=listeners, limits=limits))


class _LateSink:
    """Stands in for the runtime while the topology is declared (nothing is delivered yet)."""

    def deliver(self, sid: int, msg: Any, count: int, redelivered: bool, handle: Any) -> None:
        """Deliveries before the run starts are not expected."""

    def dead(self, channel: str, group: str | None, msg: Any, reason: str, target: str | None,
             count: int = 1) -> None:
        """Dead letters before the run starts are not expected."""

    def kept(self, channel: str, group: str | None, msg: Any, count: int) -> None:
        """Advisories before the run starts are not expected."""

    def problem(self, text: str) -> None:
        """Problems before the run starts surface as exceptions instead."""


# ---------------------------------------------------------------------------------------------- compare

KEY_COUNTS = ("published", "delivered", "redelivered", "acked", "failed", "retry_scheduled", "dead_lettered",
              "expired", "dropped", "max_deliveries_reached")
"""The trace counts shown side by side by `compare_runs`."""


def compare_runs(loaded: LoadedScenario, targets: Sequence[str], *, urls: dict[str, str] | None = None,
                 seed: int | None = None, duration_ns: int | None = None, keep: bool = False,
                 limits: Any = None) -> dict[str, RunOutcome]:
    """Run `loaded` on each target (``local`` = the core engine, else a transport); outcomes by target."""
    out: dict[str, RunOutcome] = {}
    brokers = [t for t in targets if t != "local"]
    for target in targets:
        if target == "local":
            # the core under the profile of the broker it is compared with (the first one named)
            local = under_profile(loaded, broker_profile(loaded, brokers[0])) if brokers else loaded
            out[target] = Engine(local, seed=seed, duration_ns=duration_ns, limits=limits).run()
            out[target].extra["profile"] = local.model.broker.profile
        else:
            out[target] = run_on_transport(loaded, target, url=(urls or {}).get(target), keep=keep, seed=seed,
                                           duration_ns=duration_ns, limits=limits)
    return out


def comparison_rows(outcomes: dict[str, RunOutcome]) -> list[list[str]]:
    """A table (header row first): each check's status and each key count, one column per target."""
    names = list(outcomes)
    rows = [["", *names]]
    checks: list[str] = []
    for o in outcomes.values():
        for c in o.checks:
            if c["name"] not in checks:
                checks.append(c["name"])
    for name in checks:
        row = [f"check {name}"]
        for o in outcomes.values():
            found = next((c for c in o.checks if c["name"] == name), None)
            na = " (not applicable here)" if found and name in _differing_na(outcomes, o) else ""
            row.append(f"{found['status']}{na}: {found['observed']}" if found else "-")
        rows.append(row)
    rows.append(["profile", *[str(o.extra.get("profile", "")) for o in outcomes.values()]])
    rows.append(["outcome", *[o.outcome for o in outcomes.values()]])
    rows.append(["drain", *[o.drain for o in outcomes.values()]])
    for k in KEY_COUNTS:
        rows.append([k, *[str(o.summary.get("counts", {}).get(k, 0)) for o in outcomes.values()]])
    rows.append(["latency p50 ms", *[str((o.summary.get("latency_ms") or {}).get("p50")) for o in outcomes.values()]])
    rows.append(["latency p99 ms", *[str((o.summary.get("latency_ms") or {}).get("p99")) for o in outcomes.values()]])
    return rows


def _differing_na(outcomes: dict[str, RunOutcome], o: RunOutcome) -> dict[str, str]:
    """The checks `o`'s broker cannot judge (``extra["not_applicable"]``) whose verdict differs from the
    ``local`` column's: a difference the capability notes explain."""
    local = outcomes.get("local")
    if local is None or local is o:
        return {}
    return differing_not_applicable(local.checks, o.checks, o.extra.get("not_applicable", {}),
                                    local.summary.get("counts"))


def differing_not_applicable(core_checks: list[dict[str, Any]], real_checks: list[dict[str, Any]],
                             na: dict[str, str], core_counts: dict[str, int] | None = None) -> dict[str, str]:
    """Of `na` (check -> reason), the checks whose status on the broker differs from the core's and whose
    reason holds for this core run (`check_notes.applies`: e.g. Redis's missing refusal only matters when
    the core refused publishes)."""
    from evtool.transports.check_notes import applies

    core = {c["name"]: c["status"] for c in core_checks}
    return {c["name"]: na[c["name"]] for c in real_checks
            if c["name"] in na and core.get(c["name"]) != c["status"] and applies(na[c["name"]], core_counts)}


def format_comparison(outcomes: dict[str, RunOutcome]) -> str:
    """`comparison_rows` as aligned plain text (warnings of each transport listed underneath)."""
    rows = comparison_rows(outcomes)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    widths = [min(w, 60) for w in widths]
    lines = ["  ".join(cell[:60].ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    for target, o in outcomes.items():
        for w in o.extra.get("warnings", []):
            lines.append(f"note ({target}): {w}")
        for p in o.extra.get("problems", []):
            lines.append(f"problem ({target}): {p}")
        for check, why in _differing_na(outcomes, o).items():
            lines.append(f"not applicable on {target}: check {check}: {why}")
    return "\n".join(lines)
