"""``serve``: one process per home (flock), the service loop, uvicorn on a socket bound here."""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from workflow_cli.errors import ConflictError, InvalidInputError
from workflow_cli.server.context import ServerContext
from workflow_cli.store.home import Home

LOCK_NAME = "serve.lock"


@contextmanager
def serve_lock(home: Home) -> Iterator[None]:
    """Hold ``<home>/serve.lock`` for the life of the server; a second ``serve`` gets ConflictError (exit 5)."""
    path = home.root / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            raise ConflictError(f"another 'workflow-cli serve' runs on {home.root} ({holder or 'see ' + str(path)})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except socket.gaierror as exc:
        sock.close()
        raise InvalidInputError.at("--host", f"cannot listen on {host!r}: {exc.strerror or exc}") from exc
    except OSError as exc:
        sock.close()
        raise ConflictError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def _first_token(home: Home, url: str) -> None:
    """On a home without tokens: an admin token, and the login URL printed once."""
    from workflow_cli.ops.tokens import create_token, list_tokens

    if list_tokens(home):
        return
    token = create_token(home, "admin", "admin")["token"]
    sys.stdout.write(f"created admin token 'admin'; log in once with: {url}/?token={token}\n")
    sys.stdout.flush()


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server without its signal capture (which re-raises the signal at exit: exit 130/143).

        SIGINT and SIGTERM end ``serve`` cleanly with exit 0; a second one stops at once.
        """

        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        def stop_on_signal(self, signum: int, frame: object) -> None:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

    return Server


def run_server(home: Home, *, host: str, port: int) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit code (0)."""
    import uvicorn

    from workflow_cli.store.config import load_config
    from workflow_cli.server.app import build_app
    from workflow_cli.server.loop import ServiceLoop

    config = load_config(home)
    with serve_lock(home):
        sock = _bind(host, port)
        bound = sock.getsockname()[1]
        shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host) or (f"[{host}]" if ":" in host else host)  # a wildcard is no address to open
        url = f"http://{shown}:{bound}"
        ctx = ServerContext(home, host, bound, tuple((config.get("server") or {}).get("hosts") or ()))
        _first_token(home, url)
        sys.stdout.write(f"serving {home.root} on {url}\n")
        sys.stdout.flush()
        loop = ServiceLoop(ctx)
        loop.start()
        server = _server_class()(uvicorn.Config(build_app(ctx), log_level="warning", access_log=False, lifespan="off",
                                        timeout_graceful_shutdown=3))
        previous = {sig: signal.signal(sig, server.stop_on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            server.run(sockets=[sock])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            loop.stop()
            sock.close()
        ctx.log("stopped")
    return 0

