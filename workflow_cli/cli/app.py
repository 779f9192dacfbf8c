"""The root command: global options (SPEC 8) and the registration of command modules (``cli/main.py`` picks them)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from typing import Optional

import typer

from workflow_cli._version import __version__
from workflow_cli.cli.main import GLOBAL_FLAGS, GLOBAL_VALUED, main, normalize_argv  # noqa: F401 (re-exported)
from workflow_cli.cli.output import CliContext

COMMAND_MODULES = (
    "init", "templates", "validate", "schema", "create", "listing", "status", "graph",
    "running", "control", "logs", "decide", "emit", "agents", "monitor", "inspect", "health", "report", "cache", "migrate", "prune", "scheduler",
    "tokens", "queue", "serve",
)
HELP = "Run workflows of shell commands, Python callables, agents, approvals and more from JSON/YAML templates."


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"workflow-cli {__version__}\n")
        raise typer.Exit(0)


def root(
    ctx: typer.Context,
    home: Optional[str] = typer.Option(None, "--home", help="Home folder (default: $WORKFLOW_HOME, a parent holding instances/, or the user data folder).", metavar="DIR"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document on stdout; human text goes to stderr."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only what a script needs."),
    no_color: bool = typer.Option(False, "--no-color", help="No colour (also NO_COLOR=1)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Global options apply to every command and may also follow the command name."""
    if home is not None and not home.strip():  # '' would silently mean "the default home"
        raise typer.BadParameter("the folder name is empty", param_hint="'--home'")
    ctx.obj = CliContext(home_arg=home, json=json_out, quiet=quiet, color=not no_color)


def build_app(modules: Iterable[str] = COMMAND_MODULES, *, only: str | None = None) -> typer.Typer:
    """The root app with the global options and the commands of ``modules`` (all by default); ``only``:
    just that command of them (typer inspects every registered command's signature at each start)."""
    new = typer.Typer(
        name="workflow-cli",
        help=HELP,
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    new.callback()(root)
    for name in modules:
        importlib.import_module(f"workflow_cli.cli.commands.{name}").register(new)
    if only is not None:
        new.registered_commands = [c for c in new.registered_commands if c.name == only]
        new.registered_groups = [g for g in new.registered_groups if g.name == only]
    return new


def __getattr__(name: str) -> typer.Typer:
    """``app``: every command registered, built on first use (tests and ``python -c`` callers)."""
    if name == "app":
        full = build_app()
        globals()["app"] = full
        return full
    raise AttributeError(name)
