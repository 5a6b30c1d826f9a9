"""Shell completion (bash, zsh, fish) through typer's `_EVTOOL_COMPLETE` protocol.

`evtool completion bash|zsh|fish` prints the script to source; the completers here fill in lesson ids (and
scenario files), run ids, transports, profiles and the `--set` paths of the scenario on the command line.
They are attached to the click command tree by `attach` (called by `evtool.cli.app.main`), so the command
modules stay as they are; they run only while the shell asks for completions, never on a normal start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from evtool.core.targets import TARGETS

TRANSPORTS = TARGETS  # the one list of run targets (core.targets)
SHELLS = ("bash", "zsh", "fish")


def completion(
    shell: str = typer.Argument(..., help="bash, zsh or fish.", show_default=False),
) -> None:
    """Print the completion script for bash, zsh or fish (lesson ids, run ids, --set paths, ...).

    Load it with, for bash: `eval "$(evtool completion bash)"` (or save it in ~/.local/share/bash-completion/completions/evtool);
    zsh: `evtool completion zsh > "${fpath[1]}/_evtool"`; fish: `evtool completion fish > ~/.config/fish/completions/evtool.fish`.
    """
    from typer._completion_shared import get_completion_script

    from evtool.cli.output import EXIT_INVALID

    if shell not in SHELLS:
        typer.echo(f"error: {shell!r} is not a shell evtool completes; one of: {', '.join(SHELLS)}", err=True)
        raise typer.Exit(EXIT_INVALID)
    typer.echo(get_completion_script(prog_name="evtool", complete_var="_EVTOOL_COMPLETE", shell=shell))


# ---------------------------------------------------------------------------------------------- completers


def _files(incomplete: str) -> list[str]:
    base = Path(incomplete).parent if "/" in incomplete else Path(".")
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return []
    out = []
    for p in entries:
        text = str(p) if "/" in incomplete else p.name
        if not text.startswith(incomplete) or p.name.startswith("."):
            continue
        if p.is_dir():
            out.append(text + "/")
        elif p.suffix in (".yaml", ".yml"):
            out.append(text)
    return out


def lesson_ids(ctx: Any, param: Any, incomplete: str) -> list[str]:
    """Bundled lesson ids, then scenario files and folders under the working directory."""
    from evtool.scenario.lessons import lesson_dir

    ids = sorted(p.stem for p in lesson_dir().glob("*.yaml"))
    return [i for i in ids if i.startswith(incomplete)] + _files(incomplete)


def run_ids(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    """`last` and the recorded run ids (newest first), each with its scenario as the description."""
    from click.shell_completion import CompletionItem

    items = [CompletionItem("last", help="the newest run")] if "last".startswith(incomplete) else []
    try:
        from evtool.store import SyncRunStore, resolve_db_path

        db = _param(ctx, "db")
        path = resolve_db_path(db)
        if not path.exists():
            return items
        with SyncRunStore(path) as store:
            rows = store.list_runs(limit=200)
    except Exception:  # noqa: BLE001 - completion never fails loudly
        return items
    for r in rows:
        if r.id.startswith(incomplete):
            items.append(CompletionItem(r.id, help=f"{r.scenario_id} seed {r.seed} {r.shown_outcome}"))
    return items


def transports(ctx: Any, param: Any, incomplete: str) -> list[str]:
    """local and the real brokers."""
    return [t for t in TRANSPORTS if t.startswith(incomplete)]


def transport_list(ctx: Any, param: Any, incomplete: str) -> list[str]:
    """--compare: a comma-separated list of transports."""
    head, _, last = incomplete.rpartition(",")
    chosen = set(head.split(",")) if head else set()
    prefix = f"{head}," if head else ""
    return [prefix + t for t in TRANSPORTS if t.startswith(last) and t not in chosen]


def profiles(ctx: Any, param: Any, incomplete: str) -> list[str]:
    """Broker profile names (and `scenario` for --local-profile)."""
    from evtool.core.profiles import PROFILES

    names = [*PROFILES, "scenario"] if getattr(param, "name", "") == "local_profile" else list(PROFILES)
    return [p for p in names if p.startswith(incomplete)]


def export_formats(ctx: Any, param: Any, incomplete: str) -> list[str]:
    """`evtool export --format`."""
    from evtool.cli.runs import FORMATS

    return [f for f in FORMATS if f.startswith(incomplete)]


def outcomes(ctx: Any, param: Any, incomplete: str) -> list[str]:
    """`evtool runs --outcome`."""
    from evtool.store.model import OPEN_STATES, OUTCOMES

    return [o for o in (*OUTCOMES, *OPEN_STATES) if o.startswith(incomplete)]


def event_kinds(ctx: Any, param: Any, incomplete: str) -> list[str]:
    """`evtool inspect --kind`: the trace vocabulary."""
    from evtool.scenario.vocabulary import KINDS

    return sorted(k for k in KINDS if k.startswith(incomplete))


def set_paths(ctx: Any, param: Any, incomplete: str) -> list[str]:
    """--set: the paths of the scenario given on the command line (`consumers.billing.retry.max_attempts=`),
    and after `broker.profile=` the profiles."""
    if "=" in incomplete:
        path, _, value = incomplete.partition("=")
        if path == "broker.profile":
            return [f"{path}={p}" for p in profiles(ctx, None, value)]
        return []
    data = _scenario_data(ctx)
    if data is None:
        return []
    paths = sorted(set(_flatten(data)))
    return [f"{p}=" for p in paths if p.startswith(incomplete)]


def _param(ctx: Any, name: str) -> Any:
    return (getattr(ctx, "params", None) or {}).get(name)


def _scenario_data(ctx: Any) -> dict[str, Any] | None:
    """The YAML of the scenario argument (a file or a lesson id; the default lesson for `run`), unvalidated."""
    source = _param(ctx, "scenario") or _param(ctx, "target")
    if source is None:
        # while an option still waits for its value (`--set <TAB>`), click leaves the positionals unparsed
        source = next((a for a in getattr(ctx, "args", []) if not a.startswith("-")), None)
    if source is None and getattr(ctx, "info_name", "") == "run":
        source = "retries-dlq-poison"
    if isinstance(source, list | tuple):
        source = source[0] if source else None
    if not source:
        return None
    try:
        import yaml

        path = Path(str(source))
        if not path.is_file():
            from evtool.scenario.lessons import find_lesson

            path = find_lesson(str(source))
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - completion never fails loudly
        return None
    return data if isinstance(data, dict) else None


_SKIP = ("lesson", "evtool", "id", "description", "expect", "faults", "alerts", "schemas")


def _flatten(data: Any, prefix: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if not prefix and k in _SKIP:
                continue
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                out.extend(_flatten(v, path))
            else:
                out.append(path)
    return out


COMPLETERS: dict[tuple[str, str], Any] = {
    ("run", "scenario"): lesson_ids,
    ("run", "transport"): transports,
    ("run", "compare"): transport_list,
    ("run", "local_profile"): profiles,
    ("run", "set_"): set_paths,
    ("tui", "scenario"): lesson_ids,
    ("explain", "target"): lesson_ids,
    ("explain", "set_"): set_paths,
    ("validate", "files"): lesson_ids,
    ("new", "from_"): lesson_ids,
    ("show", "run"): run_ids,
    ("inspect", "run"): run_ids,
    ("export", "run"): run_ids,
    ("replay", "run"): run_ids,
    ("diff", "run_a"): run_ids,
    ("diff", "run_b"): run_ids,
    ("export", "fmt"): export_formats,
    ("runs", "outcome"): outcomes,
    ("inspect", "kind"): event_kinds,
}
"""(command, parameter name) -> completer."""


def attach_command(name: str, cmd: Any) -> None:
    """Set the completers of command `name` on its click command (the root group builds commands lazily)."""
    for (command, param_name), fn in COMPLETERS.items():
        if command != name:
            continue
        for p in cmd.params:
            if p.name == param_name:
                p._custom_shell_complete = fn


def attach(group: Any) -> Any:
    """Set the completers on every command already built in a click group; returns the group."""
    for name, cmd in getattr(group, "commands", {}).items():
        attach_command(name, cmd)
    return group
