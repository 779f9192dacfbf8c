"""Task callables for the benchmark's in-process ``python`` tasks (``_bench_tasks:noop``).

``bench/run.py`` puts the ``bench`` folder on ``sys.path`` before it runs the engine, so the runner's
``importlib.import_module("_bench_tasks")`` finds this module.
"""


def noop():
    """Do nothing: the cost of the task is the engine's alone."""
    return None
