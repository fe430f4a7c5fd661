"""The local cloud's opt-in delay layer: long AWS operations take AWS's usual time, scaled down.

PROTEA_DELAY_SCALE is a number of seconds per real AWS minute (6: RDS Multi-AZ's ~15 min become
90 s). Unset (the suite's default), each in-between state keeps its short fixed duration, or none
where the local cloud never had one. The minutes come from the one table of AWS's usual durations,
plugins/callback/progress.py USUAL_MINUTES (what the progress line says); bench/critical_path.py
builds its dependency graph from the same figures, so a benchmark compares like with like.

Imported by the server (compat patches) and by the client side (Emulator, bench); stdlib only,
plus that table.
"""
from __future__ import annotations

import os
from typing import Mapping

from plugins.callback.progress import USUAL_MINUTES

SCALE_ENV = "PROTEA_DELAY_SCALE"


def scale(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds per AWS minute, or None when the delay layer is off. A bad value is an error."""
    raw = (os.environ if environ is None else environ).get(SCALE_ENV, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ValueError(f"{SCALE_ENV}={raw!r}: give a positive number of seconds per AWS minute, e.g. 6")
    return value


def seconds(operation: str, default: float = 0.0, environ: Mapping[str, str] | None = None) -> float:
    """How long `operation` (a USUAL_MINUTES key) takes here: scaled when the layer is on, else `default`."""
    minutes = USUAL_MINUTES[operation]  # a KeyError names a typo at once
    factor = scale(environ)
    return default if factor is None else minutes * factor


def on() -> bool:
    return scale() is not None
