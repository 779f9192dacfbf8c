"""Read-side views of instances: summaries, health, live monitor, reports."""
