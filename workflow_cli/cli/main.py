"""The console-script entry point: hoist global options, answer ``--version``, import one command module.

Nothing here imports typer: ``workflow-cli --version`` answers before any of it loads; a plain form
of ``run``, ``status``, ``list``, ``tick`` or ``health`` goes the quick path (``cli/quick.py``: no click
at all); any other command builds a root app holding only the module that defines it (``COMMANDS``),
so ``create`` does not import the modules (and their dependencies) of ``report``, ``migrate`` or
``health``. Help, an unknown command, no command at all and shell completion build the full app.
"""

from __future__ import annotations

import os
import sys

GLOBAL_FLAGS = ("--json", "--quiet", "-q", "--no-color")
GLOBAL_VALUED = ("--home",)

# command name -> the module of workflow_cli.cli.commands that registers it (tests check it is complete)
COMMANDS = {
    "init": "init", "templates": "templates", "validate": "validate", "schema": "schema", "create": "create",
    "list": "listing", "status": "status", "graph": "graph",
    "start": "running", "run": "running", "resume": "running", "retry": "running",
    "stop": "control", "cancel": "control", "rollback": "control", "checkpoints": "control",
    "logs": "logs", "approve": "decide", "reject": "decide", "signal": "decide", "tick": "decide", "emit": "emit",
    "agents": "agents", "monitor": "monitor", "debug": "inspect", "audit": "inspect",
    "health": "health", "alerts": "health", "report": "report", "cache": "cache", "migrate": "migrate",
    "prune": "prune", "scheduler": "scheduler", "schedules": "scheduler",
    "token": "tokens", "queue": "queue", "serve": "serve",
}
QUICK = ("run", "status", "list", "tick", "health")  # commands whose plain forms cli/quick.py runs without click


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


def first_word(args: list[str]) -> str | None:
    """The first argument of normalized ``args`` that is not a global option (the command, or ``--version``)."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in GLOBAL_VALUED:
            i += 2
            continue
        if arg in GLOBAL_FLAGS or any(arg.startswith(f"{opt}=") for opt in GLOBAL_VALUED):
            i += 1
            continue
        return arg
    return None


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    for name in ("stdout", "stderr"):  # started with that descriptor closed (`>&-`): write nowhere, never crash
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115 - lives as long as the process
    args = normalize_argv(list(sys.argv[1:] if argv is None else argv))
    word = first_word(args)
    if word == "--version":
        from workflow_cli._version import __version__

        sys.stdout.write(f"workflow-cli {__version__}\n")
        return
    completing = any(key.endswith("_COMPLETE") and key.startswith("_WORKFLOW_CLI") for key in os.environ)
    if word in QUICK and not completing:
        from workflow_cli.cli import quick

        if quick.run(args):  # a plain form (`run SOURCE`, `status ID`, ...): no click app to build
            return
    from workflow_cli.cli.app import build_app

    module = None if completing else COMMANDS.get(word or "")  # shell completion: every command
    app = build_app((module,), only=word) if module else build_app()
    if "--json" not in args or completing:
        app(args=args, prog_name="workflow-cli")
        return
    _with_json_usage_errors(app, args)


def _with_json_usage_errors(app: object, args: list[str]) -> None:
    """Run ``app`` as click would, but a usage error (a missing argument, a bad option value, an unknown
    command) also prints the ``--json`` error document on stdout, as every other error does (SPEC 8)."""
    import json

    try:
        from typer._click.exceptions import Abort, ClickException
    except ImportError:  # a typer release that does not vendor click
        from click.exceptions import Abort, ClickException  # type: ignore[no-redef,assignment]

    try:
        code = app(args=args, prog_name="workflow-cli", standalone_mode=False)  # type: ignore[operator]
    except ClickException as exc:
        exc.show()
        error = {"message": exc.format_message(), "exit_code": exc.exit_code}
        sys.stdout.write(json.dumps({"error": error}, indent=2) + "\n")
        sys.exit(exc.exit_code)
    except Abort:
        sys.stderr.write("Aborted!\n")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
