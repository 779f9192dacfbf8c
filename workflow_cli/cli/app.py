"""The root command: global options (SPEC 8) and the registration of every command module."""

from __future__ import annotations

import importlib
import sys
from typing import Optional

import typer

from workflow_cli._version import __version__
from workflow_cli.cli.output import CliContext

COMMAND_MODULES = (
    "init", "templates", "validate", "schema", "create", "listing", "status", "graph",
    "running", "control", "logs", "decide", "agents", "monitor", "inspect", "health", "report", "cache", "migrate", "prune", "scheduler",
    "tokens", "queue", "serve",
)
GLOBAL_FLAGS = ("--json", "--quiet", "-q", "--no-color")
GLOBAL_VALUED = ("--home",)

app = typer.Typer(
    name="workflow-cli",
    help="Run workflows of shell commands, Python callables, agents, approvals and more from JSON/YAML templates.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"workflow-cli {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    home: Optional[str] = typer.Option(None, "--home", help="Home folder (default: $WORKFLOW_HOME, a parent holding instances/, or the user data folder).", metavar="DIR"),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON document on stdout; human text goes to stderr."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only what a script needs."),
    no_color: bool = typer.Option(False, "--no-color", help="No colour (also NO_COLOR=1)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Global options apply to every command and may also follow the command name."""
    ctx.obj = CliContext(home_arg=home, json=json_out, quiet=quiet, color=not no_color)


for _name in COMMAND_MODULES:
    importlib.import_module(f"workflow_cli.cli.commands.{_name}").register(app)


def normalize_argv(args: list[str]) -> list[str]:
    """Move global options written after the command name to the front, where click expects them."""
    hoisted: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg in GLOBAL_FLAGS:
            hoisted.append(arg)
        elif arg in GLOBAL_VALUED and i + 1 < len(args):
            hoisted.extend(args[i : i + 2])
            i += 1
        elif any(arg.startswith(f"{opt}=") for opt in GLOBAL_VALUED):
            hoisted.append(arg)
        else:
            rest.append(arg)
        i += 1
    return hoisted + rest


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    args = normalize_argv(list(sys.argv[1:] if argv is None else argv))
    app(args=args, prog_name="workflow-cli")
