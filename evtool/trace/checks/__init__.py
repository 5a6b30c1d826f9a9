"""Checks: the `expect` block judged against the trace.

Each expectation becomes a small incremental checker that folds trace
batches in and gives a verdict at the end (or at every sample tick, for
`when: always` and `when: eventually`). A verdict is `pass`, `fail` or
`unknown`: no data is unknown, never a silent pass. Each result says what
was expected, what was seen, and the ids of messages that show it.

Checks are observers: they read trace events and a read-only `RunView`
(`evtool.trace.view`), never an actor or the engine, so the digest of a run
is the same whichever checks it has. One module per family:

* `base`          the `Checker` base: `when` and `within`
* `conservation`  `no_loss`, `dead_letters`
* `handling`      `effectively_once`, `no_duplicates`, `per_key_order`, `latency`
* `patterns`      `exclusive_ownership`, request, saga and projection checks
* `assertions`    metric assertions (`that:`) and alerts
* `suite`         `CheckSuite`: every expectation of a scenario
"""

from evtool.trace.checks.assertions import GAUGE_METRICS, LATENCY_METRICS, AssertionChecker
from evtool.trace.checks.base import EVIDENCE, Checker
from evtool.trace.checks.conservation import DeadLetters, NoLoss
from evtool.trace.checks.handling import EffectivelyOnce, Latency, NoDuplicates, PerKeyOrder
from evtool.trace.checks.patterns import ExclusiveOwnership, PatternEvents
from evtool.trace.checks.suite import CheckSuite

__all__ = [
    "EVIDENCE",
    "GAUGE_METRICS",
    "LATENCY_METRICS",
    "AssertionChecker",
    "CheckSuite",
    "Checker",
    "DeadLetters",
    "EffectivelyOnce",
    "ExclusiveOwnership",
    "Latency",
    "NoDuplicates",
    "NoLoss",
    "PatternEvents",
    "PerKeyOrder",
]
