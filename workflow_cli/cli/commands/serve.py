"""``serve``: the long-running service over a home: the HTTP API, triggers, the queue (SPEC 18)."""

from __future__ import annotations

import typer

from workflow_cli.cli.failure import guarded

SERVER_MODULES = ("fastapi", "uvicorn", "prometheus_client")  # what the [server] extra brings and serve imports


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
        import importlib.util

        from workflow_cli.errors import InvalidInputError

        missing = [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]
        if missing:  # checked before anything starts: uvicorn is only imported once the server runs
            raise InvalidInputError(f"serve needs the server extra ({', '.join(missing)} missing): "
                                    "pip install 'workflow-cli[server]'")
        try:
            from workflow_cli.server.main import run_server
        except ImportError as exc:
            raise InvalidInputError(f"serve needs the server extra ({exc.name} is missing): pip install 'workflow-cli[server]'") from exc
        raise typer.Exit(run_server(ctx.obj.writable_home(), host=host, port=port))
