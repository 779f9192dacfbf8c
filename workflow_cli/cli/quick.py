"""The quick path: the plain forms of the everyday commands, run without click.

Building the click app costs every start importing typer and inspecting the command's signature:
about 25 ms, a fifth of a one-task ``run`` (SPEC 15, issue 16). The forms below are recognised here
and go straight to the bodies the typer commands call (``run_flow``, ``bodies``), with the same global
options object, error handler and exit codes:

    workflow-cli [global options] run SOURCE [--param KEY=VALUE ...]
    workflow-cli [global options] status ID
    workflow-cli [global options] list [--limit N] [--status S] [--template T] [--sort KEY]
    workflow-cli [global options] tick
    workflow-cli [global options] health

Anything else (another option, ``--help``, ``--``, a value that starts with ``-``, a repeated option,
a ``--limit`` that is not a plain number) is not recognised, and typer parses it as always, with its
own messages. ``tests/cli/test_quick.py`` checks each form against its typer command (same options,
same answers).
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

_GLOBAL_FLAGS = {"--json": "json", "--quiet": "quiet", "-q": "quiet", "--no-color": "no_color"}


class Form(NamedTuple):
    """A command's plain form: its body (``module:function``, called ``body(obj, *positionals, **options)``),
    how many positional arguments it takes, and its options: flag -> (keyword, kind)."""

    body: str
    positionals: int
    options: dict[str, tuple[str, str]]  # kind: "str", "int" (digits only) or "list" (repeatable)


FORMS = {
    "run": Form("workflow_cli.cli.run_flow:run_command", 1, {"--param": ("param", "list"), "-p": ("param", "list")}),
    "status": Form("workflow_cli.cli.bodies:status", 1, {}),
    "list": Form("workflow_cli.cli.bodies:list_instances", 0, {"--limit": ("limit", "int"), "--status": ("status", "str"),
                                                              "--template": ("template", "str"), "--sort": ("sort", "str")}),
    "tick": Form("workflow_cli.cli.bodies:tick", 0, {}),
    "health": Form("workflow_cli.cli.bodies:health", 0, {}),
}


class Call(NamedTuple):
    """A recognised invocation: the global options, the command, its positional arguments and options."""

    home: str | None
    json: bool
    quiet: bool
    no_color: bool
    command: str
    positionals: list[str]
    options: dict[str, Any]


def _globals(args: list[str]) -> tuple[dict[str, Any], int] | None:
    """The global options before the command (``main.normalize_argv`` moved them there), and where the command is."""
    seen: dict[str, Any] = {}
    i = 0
    while i < len(args) and args[i] not in FORMS:
        arg = args[i]
        if arg in _GLOBAL_FLAGS and _GLOBAL_FLAGS[arg] not in seen:
            seen[_GLOBAL_FLAGS[arg]] = True
        elif arg == "--home" and i + 1 < len(args) and "home" not in seen:
            seen["home"] = args[i + 1]
            i += 1
        elif arg.startswith("--home=") and "home" not in seen:
            seen["home"] = arg[len("--home="):]
        else:
            return None
        i += 1
    home = seen.get("home")
    if i == len(args) or (home is not None and (not home.strip() or home.startswith("-"))):
        return None  # no command, or a --home typer has something to say about
    return seen, i


def _value(kind: str, text: str) -> Any:
    """The option's value, or None when typer should judge it (a number other than plain ASCII digits)."""
    if text.startswith("-") or (kind == "int" and not (text.isascii() and text.isdigit() and len(text) <= 18)):
        return None
    return int(text) if kind == "int" else text


def parse(args: list[str]) -> Call | None:
    """``args`` (global options first) as a plain form of one of ``FORMS``, else None."""
    found = _globals(args)
    if found is None:
        return None
    seen, i = found
    command, rest = args[i], args[i + 1:]
    form = FORMS[command]
    positionals: list[str] = []
    options: dict[str, Any] = {}
    j = 0
    while j < len(rest):
        arg = rest[j]
        flag, eq, attached = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if flag in form.options:
            if eq:
                text = attached
            elif j + 1 < len(rest):
                text, j = rest[j + 1], j + 1
            else:
                return None
            keyword, kind = form.options[flag]
            value = _value(kind, text)
            if value is None or (kind != "list" and keyword in options):
                return None
            if kind == "list":
                options.setdefault(keyword, []).append(value)
            else:
                options[keyword] = value
        elif arg and not arg.startswith("-") and len(positionals) < form.positionals:
            positionals.append(arg)
        else:
            return None
        j += 1
    if len(positionals) != form.positionals:
        return None
    return Call(seen.get("home"), bool(seen.get("json")), bool(seen.get("quiet")), bool(seen.get("no_color")),
                command, positionals, options)


def run(args: list[str]) -> bool:
    """Run ``args`` here when they are a plain form (a non-zero exit is a ``SystemExit``); False: leave them to typer."""
    call = parse(args)
    if call is None:
        return False
    from workflow_cli.cli.failure import guarded, quick_context
    from workflow_cli.cli.output import CliContext

    module, _, name = FORMS[call.command].body.partition(":")
    body = getattr(importlib.import_module(module), name)
    obj = CliContext(home_arg=call.home, json=call.json, quiet=call.quiet, color=not call.no_color)
    with quick_context(obj):
        guarded(body)(obj, *call.positionals, **call.options)
    return True
