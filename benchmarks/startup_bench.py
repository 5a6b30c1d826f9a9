"""Start-up costs of the command line, as ratios measured in the same run.

* `evtool --help` against `python -c "import typer"` (target: at most 1.3);
* `evtool validate` on every bundled lesson, this tree against a baseline tree
  given with `--baseline DIR` (a checkout of an older evtool; target: at least
  3 times faster);
* `evtool run` of a small lesson: the share of its wall time spent importing
  modules (`python -X importtime`, top-level imports summed; target: under 1/3),
  and what that time is made of: each import's own time charged to pydantic (with
  the scenario models it builds), typer, rich, yaml, evtool's own modules, or the
  rest (the standard library and the interpreter's start-up). The same share on
  the CPU clock: the CPU time of a fresh interpreter that only imports the modules
  the run imported, over the run's CPU time (steadier on a busy machine). The
  floor: the same for only the modules that are not evtool's own (typer, rich,
  yaml, pydantic and the standard library's), with and without pydantic, what no
  change to evtool's modules can take away while the run uses them. And,
  not an import but start-up all the same, what the first validation of the
  lesson costs over a second one: pydantic building its schema, deferred to then.
  Last, the least import share any `run` that parses its arguments with typer and
  prints with rich can reach: a fresh interpreter importing only typer and
  rich.console, against the run's work that is neither importing nor that
  schema build (as if pydantic, yaml and every evtool module cost nothing).

Each command runs in a fresh interpreter, alternating between the two sides of
a ratio, `--rounds` times; the medians are compared. Both the wall time and the
CPU time of the child (user + system, from `getrusage`) are reported: on a
shared machine the CPU time is the steadier of the two, so the ratios use it
(`--clock wall` uses the wall time instead). Bytecode caches are
written to a temporary `PYTHONPYCACHEPREFIX` and warmed first, as an installed
package has them.

    python benchmarks/startup_bench.py [--baseline /path/to/old/evtool/tree] [--rounds 7] [--installed]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL_LESSON = "competing-consumers"


def _env(tree: Path | None, cache: str) -> dict[str, str]:
    """The children's environment: `tree` first on the path (None: the evtool the interpreter has installed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    env.update(PYTHONPYCACHEPREFIX=cache, COLUMNS="80", NO_COLOR="1")
    return env


CLOCK = "cpu"
"""What `timed` returns: the child's CPU seconds (`cpu`) or the wall seconds (`wall`)."""


def timed(cmd: list[str], env: dict[str, str], cwd: str) -> float:
    """Seconds of one run of `cmd` in a fresh process (its output discarded), by `CLOCK`."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if CLOCK == "wall":
        return wall
    return (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def median(xs: list[float]) -> float:
    """The median (upper middle for an even count)."""
    return sorted(xs)[len(xs) // 2]


def paired(a: tuple[list[str], dict[str, str]], b: tuple[list[str], dict[str, str]], rounds: int,
           cwd: str) -> tuple[float, float]:
    """Median wall seconds of `a` and of `b`, run alternately (one warm-up each)."""
    ta: list[float] = []
    tb: list[float] = []
    timed(*a, cwd)
    timed(*b, cwd)
    for i in range(rounds):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        t1 = timed(*first, cwd)
        t2 = timed(*second, cwd)
        if first is a:
            ta.append(t1)
            tb.append(t2)
        else:
            tb.append(t1)
            ta.append(t2)
    return median(ta), median(tb)


def _top_level_imports(stderr: str) -> dict[str, int]:
    """Top-level imports of a `-X importtime` report: name -> cumulative microseconds."""
    out: dict[str, int] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        if not name.startswith("  ") and name.strip():  # one space: a top-level import
            out[name.strip()] = out.get(name.strip(), 0) + int(cumulative)
    return out


GROUPS = (
    ("pydantic", ("pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions",
                  "evtool.scenario.models")),
    ("typer", ("typer", "shellingham", "annotated_doc", "evtool.cli.app", "evtool.cli.commands",
               "evtool.cli.coerce", "evtool.cli.completion")),
    ("rich", ("rich",)),
    ("yaml", ("yaml", "_yaml")),
    ("evtool", ("evtool",)),
)
"""Who an import's own time (`self`) is charged to; the `rest` is the standard library and the interpreter.
The scenario models count as pydantic (their import is pydantic building 84 model classes), the command line's
typer modules as typer."""


def _group(name: str) -> str:
    for group, prefixes in GROUPS:
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return group
    return "rest"


def _self_by_group(stderr: str) -> dict[str, int]:
    """Every import's own microseconds (`self`, nested ones included) summed by `GROUPS`."""
    out: dict[str, int] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, _, name = line.split(":", 1)[1].split("|")
        group = _group(name.strip())
        out[group] = out.get(group, 0) + int(own)
    return out


def import_share(cmd: list[str], env: dict[str, str], cwd: str,
                 rounds: int) -> tuple[float, float, float, dict[str, float]]:
    """Median (wall seconds, share of it spent in top-level imports, the same share without the imports a
    bare interpreter makes itself: `site`, `encodings`, ..., read from `python -X importtime -c pass`,
    each group's share of the wall time: `GROUPS`) of `cmd` under -X importtime."""
    bare = subprocess.run([cmd[0], "-X", "importtime", "-c", "pass"], env=env, cwd=cwd, capture_output=True,
                          text=True, check=False)
    interpreter = set(_top_level_imports(bare.stderr))
    walls: list[float] = []
    shares: list[float] = []
    own_shares: list[float] = []
    groups: dict[str, list[float]] = {}
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], env=env, cwd=cwd, capture_output=True,
                             text=True, check=False)
        wall = time.perf_counter() - t0
        imports = _top_level_imports(out.stderr)
        walls.append(wall)
        shares.append(sum(imports.values()) / 1e6 / wall)
        own_shares.append(sum(v for k, v in imports.items() if k not in interpreter) / 1e6 / wall)
        for group, us in _self_by_group(out.stderr).items():
            groups.setdefault(group, []).append(us / 1e6 / wall)
    by_group = {g: median(v + [0.0] * (rounds - len(v))) for g, v in groups.items()}
    return median(walls), median(shares), median(own_shares), by_group


IMPORT_ONLY = """\
import importlib, sys
try:
    from evtool.cli.startup import _startup_gc  # the entry point raises the collector threshold before any import
    _startup_gc()
except ImportError:
    pass
import evtool.cli.app as app
for name in ("_startup_gc", "_without_pydantic_plugins"):  # what main() sets up before a command, if it does
    if hasattr(app, name):
        getattr(app, name)()
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        pass
"""
"""A fresh interpreter that imports what a command imported (the names on its command line, in the order
`-X importtime` reported them), set up as the entry point (`evtool.cli.main`, then `evtool.cli.app.main`)
sets itself up, and does nothing else."""


def _imported(stderr: str) -> list[str]:
    """Every module of a `-X importtime` report, in its order."""
    names = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and "cumulative" not in line:
            names.append(line.rsplit("|", 1)[1].strip())
    return names


def cpu_import_share(cmd: list[str], env: dict[str, str], cwd: str, rounds: int) -> tuple[float, float, float]:
    """(median CPU seconds of `cmd`, of a fresh interpreter that only imports what `cmd` imported: `IMPORT_ONLY`,
    and the second over the first): the import share on the CPU clock, steadier than the wall-clock share on a
    busy machine, where a process waiting for a core inflates both sides of that share unevenly."""
    out = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], env=env, cwd=cwd, capture_output=True,
                         text=True, check=False)
    only = [cmd[0], "-c", IMPORT_ONLY, *_imported(out.stderr)]
    global CLOCK
    clock, CLOCK = CLOCK, "cpu"
    try:
        run_s, imports_s = paired((cmd, env), (only, env), rounds, cwd)
    finally:
        CLOCK = clock
    return run_s, imports_s, imports_s / run_s


LIBRARIES_ONLY = """\
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        pass
"""
"""A fresh interpreter that imports the modules a command imported that are not evtool's own (the standard
library's and the libraries' ones, in the order `-X importtime` reported them), and does nothing else."""


def library_floor(cmd: list[str], env: dict[str, str], cwd: str, rounds: int) -> tuple[float, float, float]:
    """(median CPU seconds of `cmd`; the share of them an interpreter that imports only the non-evtool modules
    `cmd` imported takes (`LIBRARIES_ONLY`); the same without pydantic and what it brings (`GROUPS`)): what no
    change to evtool's own modules can take away while the run uses these libraries. The second share is the
    floor of a run path that kept typer, rich and yaml but did without pydantic."""
    out = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], env=env, cwd=cwd, capture_output=True,
                         text=True, check=False)
    names = [n for n in _imported(out.stderr) if _group(n) != "evtool" and not n.startswith(("evtool", "__editable"))]
    libraries = [cmd[0], "-c", LIBRARIES_ONLY, *names]
    no_pydantic = [cmd[0], "-c", LIBRARIES_ONLY, *(n for n in names if _group(n) != "pydantic")]
    global CLOCK
    clock, CLOCK = CLOCK, "cpu"
    try:
        run_s, libraries_s = paired((cmd, env), (libraries, env), rounds, cwd)
        _, no_pydantic_s = paired((cmd, env), (no_pydantic, env), rounds, cwd)
    finally:
        CLOCK = clock
    return run_s, libraries_s / run_s, no_pydantic_s / run_s


FRAMEWORK = "import typer, rich.console"
"""What any `evtool run` imports whatever evtool's own modules do: the command line's framework and the console."""


def framework_floor(cmd: list[str], env: dict[str, str], cwd: str, rounds: int, imports_s: float,
                    schema_s: float) -> tuple[float, float, float]:
    """(CPU seconds of a fresh interpreter that only imports `FRAMEWORK`; the CPU seconds of `cmd` that are
    neither importing (`imports_s`, from `cpu_import_share`, the interpreter's start-up included as it is in
    both) nor pydantic's schema build (`schema_s`); the import share of a run made of the two): the least
    share any `run` that keeps typer and rich can reach, even with pydantic, yaml and evtool's modules free."""
    global CLOCK
    clock, CLOCK = CLOCK, "cpu"
    try:
        run_s, framework_s = paired((cmd, env), ([cmd[0], "-c", FRAMEWORK], env), rounds, cwd)
    finally:
        CLOCK = clock
    work_s = max(run_s - imports_s - schema_s, 1e-9)
    return framework_s, work_s, framework_s / (framework_s + work_s)


FIRST_VALIDATION = """\
import builtins, importlib, sys, time
import evtool.cli.app as app
for name in ("_startup_gc", "_without_pydantic_plugins"):
    if hasattr(app, name):
        getattr(app, name)()
from evtool.scenario.lessons import lesson_dir
from evtool.scenario.loader import load_text
text = (lesson_dir() / (sys.argv[1] + ".yaml")).read_text(encoding="utf-8")
importing = [0.0, 0]
def timed(f):
    def wrapper(*args, **kwargs):
        if importing[1]:
            return f(*args, **kwargs)
        importing[1] = 1
        t = time.process_time()
        try:
            return f(*args, **kwargs)
        finally:
            importing[0] += time.process_time() - t
            importing[1] = 0
    return wrapper
builtins.__import__ = timed(builtins.__import__)
importlib.import_module = timed(importlib.import_module)
t0 = time.process_time()
load_text(text, sys.argv[1])
t1 = time.process_time()
load_text(text + "\\n", sys.argv[1])  # another text: no cache of the first answers it
t2 = time.process_time()
print(t1 - t0 - importing[0], t2 - t1)
"""
"""The first validation of a lesson and a second one, CPU seconds, in an interpreter that has imported the
loader: the first builds pydantic's schema for the whole `Scenario` (the models defer it to then). What the
first imports (the loader's lazy imports) is left out: the import share counts it."""


def first_validation(py: str, env: dict[str, str], cwd: str, rounds: int) -> tuple[float, float]:
    """Median CPU seconds of the small lesson's first validation and of a second one (`FIRST_VALIDATION`)."""
    first: list[float] = []
    second: list[float] = []
    for _ in range(rounds):
        out = subprocess.run([py, "-c", FIRST_VALIDATION, SMALL_LESSON], env=env, cwd=cwd, capture_output=True,
                             text=True, check=True)
        a, b = out.stdout.split()
        first.append(float(a))
        second.append(float(b))
    return median(first), median(second)


def main() -> None:
    """Measure and print the ratios (and a JSON line)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", type=Path, help="an older evtool source tree to compare `validate` with")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--only", choices=("help", "validate", "run"), action="append",
                    help="measure only this part (repeatable; default: all three)")
    ap.add_argument("--installed", action="store_true",
                    help="measure the evtool this interpreter has installed (a wheel, compiled or pure, as a user "
                         "has it) instead of this source tree")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="compare the children's CPU time (steadier on a shared machine) or the wall time")
    args = ap.parse_args()
    global CLOCK
    CLOCK = args.clock
    py = sys.executable
    lessons = sorted(str(p) for p in (ROOT / "evtool" / "lessons").glob("*.yaml"))
    result: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = str(Path(tmp) / "pycache")
        env = _env(None if args.installed else ROOT, cache)
        parts = set(args.only or ("help", "validate", "run"))
        if "help" in parts:
            typer_s, help_s = paired(([py, "-c", "import typer"], env), ([py, "-m", "evtool", "--help"], env),
                                     args.rounds, tmp)
            result["help_ratio"] = help_s / typer_s
            print(f"[{CLOCK}] evtool --help {help_s * 1e3:7.0f} ms   python -c 'import typer' {typer_s * 1e3:7.0f} ms   "
                  f"ratio {help_s / typer_s:5.2f}  (target <= 1.3)")

        validate = [py, "-m", "evtool", "validate", *lessons]
        if args.baseline is not None and "validate" in parts:
            base_env = _env(args.baseline.resolve(), str(Path(tmp) / "pycache-base"))
            base_s, new_s = paired((validate, base_env), (validate, env), args.rounds, tmp)
            result["validate_s"] = new_s
            result["validate_speedup"] = base_s / new_s
            print(f"[{CLOCK}] evtool validate ({len(lessons)} lessons) {new_s * 1e3:7.0f} ms   baseline {base_s * 1e3:7.0f} ms   "
                  f"speed-up {base_s / new_s:5.2f}  (target >= 3)")

        if "run" in parts:
            run = [py, "-m", "evtool", "run", SMALL_LESSON, "--quiet", "--no-record"]
            timed(run, env, tmp)
            wall, share, own, by_group = import_share(run, env, tmp, args.rounds)
            result["run_import_share"] = share
            result["run_import_share_after_interpreter"] = own
            print(f"[wall] evtool run {SMALL_LESSON} --quiet --no-record {wall * 1e3:7.0f} ms   "
                  f"imports {share:6.1%} of it  (target < 33%); without the interpreter's own start-up "
                  f"imports {own:6.1%}")
            print("       of the wall time, importing: " + ", ".join(
                f"{g} {by_group.get(g, 0.0):.1%}" for g in (*(g for g, _ in GROUPS), "rest")))
            for g, v in by_group.items():
                result[f"run_import_share_{g}"] = v
            run_cpu, imports_cpu, cpu_share = cpu_import_share(run, env, tmp, args.rounds)
            result["run_import_share_cpu"] = cpu_share
            print(f"[cpu]  evtool run {SMALL_LESSON} --quiet --no-record {run_cpu * 1e3:7.0f} ms   importing the same "
                  f"modules alone {imports_cpu * 1e3:5.0f} ms: {cpu_share:6.1%} of it")
            floor_run, floor, floor_no_pydantic = library_floor(run, env, tmp, args.rounds)
            result["run_library_floor_cpu"] = floor
            result["run_library_floor_without_pydantic_cpu"] = floor_no_pydantic
            print(f"[cpu]  the floor: importing only the libraries' and the standard library's modules the run "
                  f"imports takes {floor:6.1%} of the run's CPU ({floor_run * 1e3:5.0f} ms); without pydantic "
                  f"{floor_no_pydantic:6.1%}")
            first, second = first_validation(py, env, tmp, args.rounds)
            result["run_first_validation_share_cpu"] = (first - second) / run_cpu
            print(f"[cpu]  not an import, but start-up too: the lesson's first validation {first * 1e3:5.1f} ms, a "
                  f"second {second * 1e3:4.1f} ms (pydantic building its schema: {(first - second) / run_cpu:5.1%} "
                  f"of the run)")
            framework_s, work_s, least = framework_floor(run, env, tmp, args.rounds, imports_cpu, first - second)
            result["run_framework_floor_cpu"] = least
            print(f"[cpu]  the least a `run` that parses with typer and prints with rich can spend on imports: "
                  f"importing typer and rich.console alone {framework_s * 1e3:4.0f} ms, against the run's work that "
                  f"is neither importing nor pydantic's schema build {work_s * 1e3:4.0f} ms: {least:6.1%} "
                  f"(with no pydantic, yaml or evtool module imported at all)")
    print(json.dumps({k: round(v, 3) for k, v in result.items()}))


if __name__ == "__main__":
    main()
