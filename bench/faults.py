"""Named crash points for fault-injection tests of the run store's crash safety.

The runner and trainer call :func:`crash_point` at the points where a crash is most likely to
leave a run half-written. With ``COTBENCH_CRASH_AT=<point>`` in the environment the process
kills itself there with SIGKILL (no cleanup, as a power cut or the OOM killer would); tests in
one process replace :func:`_die` to raise instead. Without the variable a point does nothing.
"""

from __future__ import annotations

import os
import signal

ENV = "COTBENCH_CRASH_AT"
POINTS = (
    "checkpoint-saved",  # a new checkpoint is in place, older ones not yet removed
    "predictions-written",  # test predictions written, metrics.json not yet
    "metrics-written",  # metrics.json written (the run is finished), checkpoints still there
    "checkpoints-moved",  # checkpoints renamed aside for removal, not yet removed
)


def _die(point: str) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def crash_point(point: str) -> None:
    """Die here when ``$COTBENCH_CRASH_AT`` names ``point`` (one of :data:`POINTS`)."""
    if os.environ.get(ENV) == point:
        _die(point)
