"""The service of ``workflow-cli serve`` (SPEC 18): an ASGI app over ``ops``, and the loop that ticks.

Only ``serve`` imports this package: it needs the ``[server]`` extra (FastAPI, uvicorn,
prometheus_client). Nothing below it imports the web stack, and the CLI never imports it.
"""
