"""How idle OpenMP threads wait: asleep, not spinning, unless the user chose otherwise.

torch's CPU kernels run in OpenMP parallel regions (hundreds per forward), and between regions GNU OpenMP's
threads spin for a while by default. When the machine is shared (another job on one of two cores), a spinning
thread holds a core while the thread it waits for cannot run: scoring StereoSet with SmolLM2-135M on 2 threads
took twice the wall time, and 2.2x the CPU time, of 1 thread next to one busy process; with threads that sleep
it took the same as 1 thread. On an idle machine a sleeping thread costs a wake-up per region (microseconds,
against milliseconds of work per region when scoring). The switch is read when the OpenMP runtime loads, with
torch: call this before anything imports torch.
"""

from __future__ import annotations

import os

USER_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


def wait_passively() -> None:
    """OMP_WAIT_POLICY=PASSIVE, unless the user set how OpenMP threads wait."""
    if not any(k in os.environ for k in USER_SETTINGS):
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
