"""Regressions found by acceptance testing ``serve`` and its UI from a fresh install (SPEC 18, 19)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

# The console script's main, with the [server] extra made unimportable (sys.modules[name] = None is
# Python's own way of saying "this module is not installed": find_spec returns None, import fails).
WITHOUT_EXTRA = ("import sys\n"
                 "for name in ('fastapi', 'uvicorn', 'prometheus_client'):\n"
                 "    sys.modules[name] = None\n"
                 "from workflow_cli.cli.main import main\n"
                 "sys.argv = ['workflow-cli', 'serve', '--port', '0']\n"
                 "main()\n")


def test_serve_without_the_server_extra_says_how_to_install_it(kit: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = kit.base_env(home)
    proc = subprocess.run([sys.executable, "-c", WITHOUT_EXTRA], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: serve needs the server extra (fastapi, uvicorn, prometheus_client not installed): pip install 'workflow-cli[server]'"]
    assert "Traceback" not in proc.stderr and not home.exists()
