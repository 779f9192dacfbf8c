"""``migrate status``, ``migrate run --workflow-id ID`` and ``migrate all`` (SPEC 11)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from workflow_cli.cli.failure import guarded

migrate_app = typer.Typer(help="Upgrade home templates and instances to the current schema version.", no_args_is_help=True)
DRY_RUN_HELP = "Show a unified diff of what would change; write nothing."


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} at {version}" for version, n in sorted(counts.items())) or "none"


@migrate_app.command("status")
@guarded
def status(ctx: typer.Context) -> None:
    """Count the home's templates and instances per schema version and list what needs migrating.

    Example: workflow-cli migrate status --json
    """
    from workflow_cli.ops.migrate import migration_status

    obj = ctx.find_root().obj
    info = migration_status(obj.readable_home())
    if obj.json:
        obj.emit_json(info)
        return
    obj.out(f"current schema version: {info['current_version']}")
    obj.out(f"home templates: {_counts(info['counts']['templates'])}")
    obj.out(f"instances: {_counts(info['counts']['instances'])}")
    for row in info["templates"] + info["instances"]:
        if row["status"] != "current" or row["kind"] == "builtin":
            detail = f": {row['error']}" if row.get("error") else ""
            obj.out(f"  {row['kind']} {row['name']} ({row['version']}): {row['status']}{detail}")
    pending = info["needs_migration"]
    obj.info(f"{pending} item{'s' if pending != 1 else ''} to migrate (run 'workflow-cli migrate all')" if pending
             else f"nothing to migrate: every template and instance is at {info['current_version']}")


def _render(obj: Any, report: Any) -> None:
    """Print a run's report (one JSON document, or diffs and lines), problems on stderr; exit with its code."""
    if obj.json:
        obj.emit_json(report.to_json())
    else:
        _render_text(obj, report)
    for item in report.items:
        if item.error is not None:
            typer.echo(f"error: {item.kind} {item.name}: {item.error}", err=True)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def _render_text(obj: Any, report: Any) -> None:
    """Diffs (dry run) and one line per migrated item on stdout; a summary on stderr."""
    from workflow_cli.model.validate import CURRENT_VERSION

    for item in report.changed:
        if report.dry_run:
            sys.stdout.write("".join(plan.diff for plan in item.plans))
        steps = ", ".join(f"{plan.path.name} {plan.before} -> {plan.after}" for plan in item.plans)
        obj.out(f"{'would migrate' if report.dry_run else 'migrated'} {item.kind} {item.name}: {steps}")
    files = sum(len(item.plans) for item in report.changed)
    if not files and any(item.error is not None for item in report.items):
        obj.info("nothing was migrated")
    elif not files:
        one = report.items[0] if len(report.items) == 1 else None
        what = "everything is already" if one is None else f"{one.kind} {one.name} is already"
        if one is not None and one.kind == "builtin":
            what = f"built-in template {one.name} is always"
        obj.info(f"nothing to migrate: {what} at {CURRENT_VERSION}")
    elif report.dry_run:
        obj.info(f"dry run: {files} file{'s' if files != 1 else ''} would change; nothing was written")
    else:
        obj.info(f"migrated {files} file{'s' if files != 1 else ''}; the old versions are in {report.backup_dir}")


@migrate_app.command("run")
@guarded
def run(
    ctx: typer.Context,
    workflow_id: str = typer.Option(..., "--workflow-id", metavar="ID",
                                    help="An instance id or unique prefix, a home template's name, or a document file."),
    dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
) -> None:
    """Migrate one instance, home template or document file, keeping a backup of each file changed.

    Example: workflow-cli migrate run --workflow-id nightly_etl --dry-run
    """
    from workflow_cli.ops.migrate import migrate_one

    obj = ctx.find_root().obj
    home = obj.readable_home() if dry_run else obj.writable_home()
    _render(obj, migrate_one(home, workflow_id, dry_run=dry_run))


@migrate_app.command("all")
@guarded
def all_(ctx: typer.Context, dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP)) -> None:
    """Migrate every home template and instance; one that cannot be migrated is reported, the others still are.

    Example: workflow-cli migrate all --dry-run
    """
    from workflow_cli.ops.migrate import migrate_all

    obj = ctx.find_root().obj
    home = obj.readable_home() if dry_run else obj.writable_home()
    _render(obj, migrate_all(home, dry_run=dry_run))


def register(app: typer.Typer) -> None:
    """Add the ``migrate`` sub-commands."""
    app.add_typer(migrate_app, name="migrate")
