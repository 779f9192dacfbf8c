"""Task dependency graph: building, checking, ordering and drawing (SPEC section 5).

The networkx-based code lives in ``workflow_cli.graph.dag``; this package imports nothing so
that commands which never touch the graph do not pay for networkx.
"""
