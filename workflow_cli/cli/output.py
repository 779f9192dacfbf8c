"""Rendering for people (rich, on stderr or stdout) and for scripts (one JSON document on stdout)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from workflow_cli.store.home import Home, resolve_home


@dataclass
class CliContext:
    """Global options shared by every command (SPEC 8)."""

    home_arg: str | None = None
    json: bool = False
    quiet: bool = False
    color: bool = True
    _home: Home | None = field(default=None, repr=False)

    @property
    def home(self) -> Home:
        """The home folder, resolved once (never created here)."""
        if self._home is None:
            self._home = Home(resolve_home(self.home_arg))
        return self._home

    def writable_home(self) -> Home:
        """The home, created if missing, for commands that write state."""
        return self.home.ensure()

    def readable_home(self) -> Home:
        """The home, checked but never created, for read-only commands."""
        self.home.check_readable()
        return self.home

    def console(self, *, stderr: bool = False) -> Any:
        """A rich console; colour only on a terminal and without NO_COLOR / --no-color."""
        from rich.console import Console

        stream = sys.stderr if stderr else sys.stdout
        no_color = not self.color or bool(os.environ.get("NO_COLOR")) or not stream.isatty()
        width = None if stream.isatty() else int(os.environ.get("COLUMNS") or 160)
        return Console(file=stream, no_color=no_color, highlight=False, width=width, color_system=None if no_color else "auto")

    def out(self, text: str = "") -> None:
        """A line of human output on stdout (suppressed by --quiet)."""
        if not self.quiet:
            sys.stdout.write(text + "\n")

    def info(self, text: str) -> None:
        """A diagnostic line on stderr (suppressed by --quiet)."""
        if not self.quiet:
            sys.stderr.write(text + "\n")

    def emit_json(self, data: Any) -> None:
        """The one JSON document of a --json command."""
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


STATE_STYLES = {
    "completed": "green",
    "running": "cyan",
    "running (no runner)": "bold red",
    "waiting": "yellow",
    "paused": "magenta",
    "failed": "red",
    "cancelled": "bright_black",
    "skipped": "bright_black",
    "pending": "white",
    "created": "white",
    "queued": "blue",
}


def styled(state: str) -> str:
    """A state wrapped in rich markup for its colour."""
    style = STATE_STYLES.get(state, "white")
    return f"[{style}]{state}[/{style}]"
