"""``serve``: the long-running service over a home: the HTTP API, triggers, the queue (SPEC 18)."""

from __future__ import annotations

import typer

from workflow_cli.cli.failure import guarded

SERVER_MODULES = ("fastapi", "uvicorn", "prometheus_client")


def _check_server_extra() -> None:
    """Exit 2 with one line naming what is missing when the ``[server]`` extra is not installed."""
    from importlib.util import find_spec

    from workflow_cli.errors import InvalidInputError

    missing = [name for name in SERVER_MODULES if find_spec(name) is None]
    if missing:
        raise InvalidInputError(f"serve needs the server extra ({', '.join(missing)} not installed): "
                                "pip install 'workflow-cli[server]'")


def register(app: typer.Typer) -> None:
    @app.command("serve")
    @guarded
    def serve(
        ctx: typer.Context,
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(8787, "--port", min=0, max=65535, help="Port (0: any free port; the URL is printed)."),
    ) -> None:
        """Serve the HTTP API and do what 'tick' does, continuously (needs the [server] extra).

        Example: workflow-cli --home ~/flows serve --port 8787
        """
        _check_server_extra()
        from workflow_cli.server.main import run_server

        raise typer.Exit(run_server(ctx.obj.writable_home(), host=host, port=port))
