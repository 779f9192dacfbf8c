"""The child process of an isolated ``python`` task: ``python -m workflow_cli.actions._python_child``.

Reads ``{"callable", "args", "kwargs", "sys_path"}`` as JSON on stdin. Everything the callable writes, to
``sys.stdout`` or to file descriptor 1, goes to stderr (the parent logs it); the reply is the last line
on the original stdout: the marker then ``{"result": value}`` or ``{"error", "kind", "traceback"}``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any


def _call(request: dict[str, Any]) -> dict[str, Any]:
    """Run the requested call and build the reply."""
    from workflow_cli.actions.base import outputs_result
    from workflow_cli.actions.python_callable import CallableError, resolve_callable

    try:
        fn = resolve_callable(str(request["callable"]))
    except CallableError as exc:
        return {"error": str(exc), "kind": "error"}
    try:
        value = fn(*request.get("args", []), **request.get("kwargs", {}))
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported to the parent as the attempt's failure
        return {"error": f"{type(exc).__name__}: {exc}", "kind": "error", "traceback": traceback.format_exc()}
    checked = outputs_result(value)
    if not checked.ok:
        return {"error": checked.error, "kind": checked.kind}
    return {"result": checked.outputs}


def main() -> int:
    """Serve one call; the exit code is 0 whenever a reply was written."""
    from workflow_cli.actions.python_callable import RESULT_MARKER

    reply_fd = os.dup(1)
    os.dup2(2, 1)  # the callable's output, from Python or from its own child processes, lands on stderr
    try:
        request = json.loads(sys.stdin.read())
        for entry in reversed(request.get("sys_path", [])):
            if entry not in sys.path:
                sys.path.insert(0, entry)
        reply = _call(request)
    except Exception as exc:  # noqa: BLE001 - a bad request still gets a reply
        reply = {"error": f"{type(exc).__name__}: {exc}", "kind": "error", "traceback": traceback.format_exc()}
    sys.stdout.flush()
    sys.stderr.flush()
    text = json.dumps(reply, allow_nan=False, ensure_ascii=False)
    with os.fdopen(reply_fd, "wb") as out:
        out.write(f"{RESULT_MARKER}{text}\n".encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
