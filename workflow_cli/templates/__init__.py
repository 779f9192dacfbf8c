"""Declared template parameters and sandboxed Jinja2 expressions (SPEC sections 3 and 4)."""
