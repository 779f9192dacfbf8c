"""Small callables used by the example template that ``init`` writes (``python`` action targets)."""

from __future__ import annotations

from typing import Any


def text_stats(text: str) -> dict[str, Any]:
    """Count the words and characters of ``text`` and return its words upper-cased."""
    words = text.split()
    return {"words": len(words), "chars": len(text), "shout": " ".join(w.upper() for w in words)}
