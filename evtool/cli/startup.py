"""The command line's collector threshold (set by the entry point, `evtool.cli.main`, before any other import)."""

from __future__ import annotations

STARTUP_GC_GEN0 = 100_000
"""The cycle collector's youngest-generation threshold for a command-line process (Python's default: 700;
the engine's while it runs, `evtool.sim.engine.gc_tuned`)."""


def _startup_gc() -> None:
    """Collect young objects less often in a command-line process.

    Start-up allocates objects that live until the process ends (modules, functions, classes, pydantic's
    field infos) and almost no garbage cycles. With Python's default threshold of 700 the collector ran
    94 young, 8 middle and 1 full collection during `evtool run competing-consumers --quiet --no-record`,
    40-50 ms of CPU in a run of about 300 ms, nearly all before the engine starts, rescanning what the
    imports had just built; with 100,000 it does not run before the engine starts, and the engine freezes
    what start-up built (`evtool.sim.engine.gc_tuned`) so no later collection scans it either (timed with
    `gc.callbacks`, four runs each; the whole command's CPU time fell by about 5%, 20 ms, in three sets of
    eleven runs side by side). Reference counting still frees everything else at once, and cycles are still
    collected, in larger batches, as the engine does while it runs. A higher threshold, or a collector
    switched off (`gc.disable()`, threshold 0), is left as it is.

    `evtool.cli.main` sets it before the command line's first import: typer's import alone made 22 young collections,
    3-4 ms (`gc.callbacks`, three runs), and `evtool --help` took 5 ms less CPU with the threshold set before
    it than after it (median of 21 runs side by side).
    """
    import gc

    gen0, gen1, gen2 = gc.get_threshold()
    if gc.isenabled() and 0 < gen0 < STARTUP_GC_GEN0:
        gc.set_threshold(STARTUP_GC_GEN0, gen1, gen2)
