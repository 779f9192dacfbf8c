"""The quick path: ``workflow-cli [global options] run SOURCE [--param KEY=VALUE ...]`` without click.

Building the click app costs every start importing typer and inspecting the command's signature: a
fifth of a one-task run (SPEC 15, issue 16). The commonest invocation of ``run`` is recognised here and
goes straight to the body the typer command calls (``run_flow.run_command``), with the same global
options object, error handler and exit codes. Anything else (another option, ``--help``, ``--``, a
value that starts with ``-``, a repeated global option) is not recognised, and typer parses it as
always, with its own messages.
"""

from __future__ import annotations

from typing import NamedTuple

_FLAGS = {"--json": "json", "--quiet": "quiet", "-q": "quiet", "--no-color": "no_color"}
_PARAM = ("--param", "-p")


class QuickRun(NamedTuple):
    """A recognised ``run`` invocation."""

    home: str | None
    json: bool
    quiet: bool
    no_color: bool
    source: str
    params: list[str]


def parse(args: list[str]) -> QuickRun | None:
    """``args`` (global options first, as ``main.normalize_argv`` leaves them) as a plain ``run``, else None."""
    seen: dict[str, object] = {}
    i = 0
    while i < len(args) and args[i] != "run":
        arg = args[i]
        if arg in _FLAGS and _FLAGS[arg] not in seen:
            seen[_FLAGS[arg]] = True
        elif arg == "--home" and i + 1 < len(args) and "home" not in seen:
            seen["home"] = args[i + 1]
            i += 1
        elif arg.startswith("--home=") and "home" not in seen:
            seen["home"] = arg[len("--home="):]
        else:
            return None
        i += 1
    if "home" in seen and not str(seen["home"]).strip() or str(seen.get("home", "")).startswith("-"):
        return None  # typer names the problem
    rest = args[i + 1:]
    if i == len(args):
        return None
    source: str | None = None
    params: list[str] = []
    j = 0
    while j < len(rest):
        arg = rest[j]
        if arg in _PARAM and j + 1 < len(rest) and not rest[j + 1].startswith("-"):
            params.append(rest[j + 1])
            j += 1
        elif arg.startswith("--param="):
            params.append(arg[len("--param="):])
        elif source is None and arg and not arg.startswith("-"):
            source = arg
        else:
            return None
        j += 1
    if source is None:
        return None
    home = seen.get("home")
    return QuickRun(home if isinstance(home, str) else None, bool(seen.get("json")), bool(seen.get("quiet")),
                    bool(seen.get("no_color")), source, params)


def run(args: list[str]) -> bool:
    """Run ``args`` here when they are a plain ``run`` (exits through ``SystemExit``); False: leave them to typer."""
    quick = parse(args)
    if quick is None:
        return False
    from workflow_cli.cli.failure import guarded, quick_context
    from workflow_cli.cli.output import CliContext
    from workflow_cli.cli.run_flow import run_command

    obj = CliContext(home_arg=quick.home, json=quick.json, quiet=quick.quiet, color=not quick.no_color)
    with quick_context(obj):
        guarded(run_command)(obj, quick.source, param=quick.params)
    return True
