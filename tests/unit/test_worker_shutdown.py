"""The worker's shutdown bound: a shutdown that hangs is ended, with the stacks logged."""

from __future__ import annotations

import subprocess
import sys
import time

_HUNG_SHUTDOWN = """
import logging, time
logging.basicConfig()
from stream_jobs.worker import _exit_after
_exit_after(0.5)
time.sleep(60)  # the event loop stuck in a shutdown step
"""


def test_a_hung_shutdown_is_ended_within_its_bound_with_the_stacks_logged() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _HUNG_SHUTDOWN], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 20
    assert "shutdown did not finish in time" in done.stderr
    assert "time.sleep(60)" in done.stderr or "<string>" in done.stderr  # the main thread's stack
