"""Where task actions run (SPEC 17): the :class:`~.base.Executor` protocol and the default ``local`` executor.

The scheduler hands an executor zero-argument functions keyed by ``(task_id, attempt)`` and polls for
finished results, so a remote executor (dask) can be added without touching the scheduling logic.
"""
