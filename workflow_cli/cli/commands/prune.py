"""``prune --older-than DURATION``: remove old finished instances (or move them to ``archive/``)."""

from __future__ import annotations

from typing import List, Optional

import typer

from workflow_cli.cli.failure import guarded


def register(app: typer.Typer) -> None:
    @app.command("prune")
    @guarded
    def prune(
        ctx: typer.Context,
        older_than: Optional[str] = typer.Option(None, "--older-than", help="Finished longer ago than this (30m, 12h, 7d, 2w); "
                                                 "default: retention.older_than of config.yaml."),
        status: List[str] = typer.Option([], "--status", help="Only these states (completed, failed, cancelled; repeatable); "
                                         "default: retention.status of config.yaml, else all three."),
        archive: bool = typer.Option(False, "--archive", help="Move them to <home>/archive/ instead of deleting."),
        dry_run: bool = typer.Option(False, "--dry-run", help="List what would go; change nothing."),
    ) -> None:
        """Delete or archive finished instances and their checkpoints.

        Example: workflow-cli prune --older-than 30d --status completed --dry-run
        """
        from workflow_cli.ops.prune import prune as op

        obj = ctx.obj
        result = op(obj.writable_home(), older_than=older_than, statuses=status, archive=archive, dry_run=dry_run)
        if obj.json:
            obj.emit_json(result)
            return
        verb = "would prune" if dry_run else ("archived" if archive else "pruned")
        for row in result["pruned"]:
            obj.out(f"{verb} {row['id']} ({row['status']}, finished {row['finished_at']})")
        obj.info(f"{len(result['pruned'])} instance(s) {verb}")
