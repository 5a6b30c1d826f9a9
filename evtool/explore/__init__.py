"""`evtool explore`: search runs of a scenario for one that fails an expectation, shrink it, record it.

- `candidate`: one run explore tries (seed, overrides, interventions) and the runner that makes it.
- `points`: the interesting instants of a run, read from its trace.
- `search`: the swarm over seeds with faults placed at those points, within a budget.
- `shrink`: the failing run reduced to the fewest faults, messages and earliest instants.
- `replay`: a recorded run's seed, overrides and interventions, to run it again.

The command (`evtool.cli.explore`) records the counterexample as an ordinary run. docs/explore.md
explains the search and its limits.
"""
