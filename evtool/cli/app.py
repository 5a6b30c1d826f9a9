"""The `evtool` command line: one Typer app, one module per command.

The commands are listed in `evtool.cli.commands.COMMANDS` and built when
first asked for: `evtool --help` imports no command module (and no rich),
`evtool run` imports only `evtool.cli.run`. Each command module imports only
typer and light evtool modules at import time; the work (pydantic, the
engine, textual) is imported inside the command.
"""

from __future__ import annotations

import sys

import typer

from evtool import __version__
from evtool.cli import commands
from evtool.cli.startup import _startup_gc

app = typer.Typer(
    name="evtool",
    cls=commands.Group,
    help="A command-line event workbench: run, watch, test and teach event-driven systems.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        # which engine runs: the compiled build (setup.py) or pure Python
        from evtool.sim import compiled_status

        status = compiled_status()
        engine = {"compiled": "compiled engine", "pure": "pure-Python engine"}.get(status, f"{status} engine")
        typer.echo(f"evtool {__version__} ({engine}, Python {sys.version.split()[0]})")
        raise typer.Exit(0)


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, metavar="",
                                 help="Print the version and exit."),
) -> None:
    """evtool: scenarios of producers, consumers and channels, run on a deterministic broker core."""
    _apply_config(ctx)


def _apply_config(ctx: typer.Context) -> None:
    """Defaults from evtool.toml / [tool.evtool] (evtool.config): flags > environment > file > built-in.

    `evtool config` reports a broken file itself; every other command stops with the located error.
    """
    from evtool.config import ConfigError, apply_to_environment, load, run_defaults

    try:
        cfg = load()
    except ConfigError as exc:
        if ctx.invoked_subcommand == "config":
            return
        typer.echo(f"error {exc.file}:{exc.line}:{exc.column}: {exc.message}", err=True)
        if exc.hint:
            typer.echo(f"  hint: {exc.hint}", err=True)
        raise typer.Exit(2) from None
    apply_to_environment(cfg)
    defaults = run_defaults(cfg)
    if defaults:
        ctx.default_map = {**(ctx.default_map or {}), "run": {**defaults, **(ctx.default_map or {}).get("run", {})}}


class _NoPydanticPlugins:
    """Pydantic plugins off for the command line, as typer has them off for its own adapters.

    Pydantic looks for plugins (entry points of the `pydantic` group: tracing and metrics hooks
    for services) when it builds the first validator; the search imports `importlib.metadata`
    and reads every installed package's metadata, about 15 ms of each command's start. evtool's
    scenario models need no plugin. This import hook answers pydantic's `plugin._loader` with a
    module that finds none; `PYDANTIC_DISABLE_PLUGINS` set to anything but `1`/`true`/`__all__`
    (pydantic's own switch, which also names single plugins to leave out) keeps pydantic's search.
    """

    NAME = "pydantic.plugin._loader"

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        if name != self.NAME:
            return None
        import importlib.machinery

        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec: object) -> None:
        return None  # the default module object

    def exec_module(self, module: object) -> None:
        module.get_plugins = tuple  # type: ignore[attr-defined]  # () : no plugin


def _without_pydantic_plugins() -> None:
    """Install `_NoPydanticPlugins` (unless pydantic's own switch names plugins, or it is there already)."""
    import os
    import sys

    if os.environ.get("PYDANTIC_DISABLE_PLUGINS", "1") not in ("1", "true", "__all__") \
            or _NoPydanticPlugins.NAME in sys.modules or any(isinstance(f, _NoPydanticPlugins) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _NoPydanticPlugins())


def main() -> None:
    """The command line (with shell completion: `evtool completion bash`); `evtool.cli.main` is the entry point."""
    import os

    _startup_gc()  # already done by `evtool.cli.main`; here for a caller that starts from this function
    _without_pydantic_plugins()
    from typer.main import get_command

    command = get_command(app)  # the commands are built when first asked for (`commands.Group`)
    commands.install(command)  # plain values converted without a pydantic adapter each (evtool.cli.coerce)

    if os.environ.get("_EVTOOL_COMPLETE"):
        from typer._completion_classes import completion_init

        completion_init()  # typer's bash, zsh, fish and powershell protocol (`complete_bash`, ...)
    command(prog_name="evtool", complete_var="_EVTOOL_COMPLETE")
