"""``token create|list|revoke``: API tokens for ``serve`` (SPEC 18.2)."""

from __future__ import annotations

import typer

from workflow_cli.cli.failure import guarded

token_app = typer.Typer(help="API tokens of the home, for 'workflow-cli serve'.", no_args_is_help=True)


@token_app.command("create")
@guarded
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The token's identity (approvals are recorded with it)."),
    role: str = typer.Option("viewer", "--role", help="viewer (read), operator (also change runs) or admin."),
) -> None:
    """Create a token; it is printed once and only its hash is kept.

    Example: workflow-cli token create ann --role operator
    """
    from workflow_cli.ops.tokens import create_token

    obj = ctx.find_root().obj
    result = create_token(obj.writable_home(), name, role)
    if obj.json:
        obj.emit_json(result)
        return
    obj.info(f"token '{name}' ({role}) created; it is shown only this once:")
    typer.echo(result["token"])


@token_app.command("list")
@guarded
def list_cmd(ctx: typer.Context) -> None:
    """List the tokens (name, role, creation time), never their values."""
    from workflow_cli.ops.tokens import list_tokens

    obj = ctx.find_root().obj
    rows = list_tokens(obj.readable_home())
    if obj.json:
        obj.emit_json(rows)
        return
    if not rows:
        obj.info("no tokens")
    for row in rows:
        obj.out(f"{row['name']}\t{row['role']}\t{row['created_at']}")


@token_app.command("revoke")
@guarded
def revoke(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME", help="The token to remove.")) -> None:
    """Revoke a token: requests made with it are refused from now on."""
    from workflow_cli.ops.tokens import revoke_token

    obj = ctx.find_root().obj
    result = revoke_token(obj.writable_home(), name)
    if obj.json:
        obj.emit_json(result)
    else:
        obj.info(f"token '{name}' revoked")


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
