"""The local engine: pure scheduler, runner loop, executors."""
