"""How many CPU cores this process may use: one helper for every pool of workers or threads.
Light on purpose (no data or model imports), so a reader can ask without loading the synthesiser."""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may use (all of them on systems without CPU affinity)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
