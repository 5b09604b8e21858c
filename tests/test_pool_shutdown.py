"""The interpreter exits cleanly while the pool's background work is inside a torch kernel.

CI once failed with ``terminate called without an active exception`` (exit -6): the example
cache's fill ran in a daemon thread started by :meth:`ModelPool.after_load` after loading had
finished, and the script ended while that thread was in a convolution. :meth:`ModelPool.shutdown`
(registered at exit) now sets ``closing`` and joins every background thread.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

from sr_models.paths import REPO_ROOT

SCRIPT = textwrap.dedent('''
    import time
    import torch
    from sr_arena.ui.models import ModelPool

    pool = ModelPool(["bicubic"]).start()
    assert pool.wait(60)

    def busy(_pool):
        """Two seconds of convolutions, whatever ``closing`` says (a task mid-output)."""
        x, w = torch.randn(1, 32, 128, 128), torch.randn(32, 32, 3, 3)
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            torch.nn.functional.conv2d(x, w, padding=1)

    pool.after_load(busy)  # late: runs in a thread of its own, as the Compare tab's example cache does
    time.sleep(0.3)
    print("leaving while a background task convolves")
''')


def test_exit_while_an_after_load_task_runs_a_kernel_is_clean():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "leaving" in result.stdout
