"""A recorded run's seed, overrides and interventions: what `evtool run --replay-interventions RUN` repeats."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evtool.explore.candidate import Intervention


@dataclass(frozen=True)
class RecordedInterventions:
    """Everything besides the scenario text that decides a recorded local run."""

    run_id: str
    seed: int
    overrides: dict[str, Any]
    interventions: list[Intervention]
    digest: str | None


def recorded_interventions(run: str, db: Path | None = None) -> RecordedInterventions:
    """Read run `run` (an id, a unique prefix or `last`) from the store; StoreError when it cannot."""
    from evtool.sim.host import interventions_from_events
    from evtool.store import SyncRunStore

    with SyncRunStore(db) as store:
        run_id = store.resolve(run)
        header, result = store.get(run_id)
        ivs = interventions_from_events(list(store.events(run_id, kinds=["user_intervention"])))
    return RecordedInterventions(run_id, header.seed, dict(header.overrides or {}), ivs,
                                 result.digest if result is not None else None)


def as_sets(overrides: dict[str, Any]) -> list[str]:
    """Recorded overrides as `--set path=value` items that read back to the same values (JSON is YAML)."""
    import json

    return [f"{k}={json.dumps(v)}" for k, v in overrides.items()]
