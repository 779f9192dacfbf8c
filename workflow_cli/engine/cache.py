"""The runner's side of the result cache (SPEC 3 ``cache``): look up before an attempt, store after success.

The entry of an attempt is named by the hash of its rendered ``cache.key``, its action and its rendered
parameters (:func:`workflow_cli.store.cache.entry_hash`). A fresh entry (within ``ttl_seconds``) is used
instead of running the action: the task (or foreach item) completes with ``"cached": true``. With
``--no-cache`` nothing is read, but successful results are still stored. A loop is cached as a whole:
the key is computed for its first iteration and its final outputs are stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from workflow_cli.actions.base import ActionResult
from workflow_cli.model.document import Task
from workflow_cli.model.states import EventType

if TYPE_CHECKING:
    from workflow_cli.engine.runner import Runner


class CacheMixin:
    """Methods of :class:`Runner` that use the home's result cache."""

    def _result_cache(self: Runner) -> Any:
        """The home's result cache (opened on first use)."""
        if self._result_cache_files is None:
            from workflow_cli.store.cache import ResultCache

            self._result_cache_files = ResultCache(self.home.cache)
        return self._result_cache_files

    def _cache_lookup(self: Runner, task: Task, action: Any, scope: Mapping[str, Any] | None,
                      parameters: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """(entry hash, the fresh entry or None); raises when the key cannot be evaluated."""
        from workflow_cli.store.cache import entry_hash
        from workflow_cli.templates.render import evaluate

        spec = task.cache or {}
        key = evaluate(str(spec.get("key")), scope if scope is not None else self._scope(task))
        digest = entry_hash(key, task.action, parameters)
        if self.options.no_cache:
            return digest, None
        return digest, self._result_cache().get(digest, self.clock.time())

    def _cache_hit(self: Runner, task: Task, key: str, attempt: int, index: int | None, entry: Mapping[str, Any]) -> bool:
        """Complete the task (or item) with the stored outputs, without running its action."""
        from workflow_cli.engine.launch import _Live

        started = None if index is not None else {"cached": True}
        self._record_start(task, attempt, index, started)
        self.live[key] = _Live(task, attempt, None, index=index, cached=True)
        self._on_result((key, attempt), ActionResult.success(entry.get("outputs")))
        return True

    def _cache_store(self: Runner, task: Task, digest: str | None, outputs: Any) -> None:
        """Keep a successful result; a cache that cannot be written is reported, never fatal."""
        if not digest:
            return
        about = {"task": task.id, "template": self.state.get("template"), "instance": self.paths.id, "action": task.action}
        try:
            self._result_cache().put(digest, outputs, now=self.clock.time(), ttl_seconds=(task.cache or {}).get("ttl_seconds"),
                                     about=about)
        except (OSError, ValueError, TypeError) as exc:
            self.journal.record(EventType.TASK_WARNING, {"task": task.id, "error": f"cache entry not stored: {exc}"})
