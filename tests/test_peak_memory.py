"""A build's peak memory is its own, not the largest of every build before it in the same process. Measured in
a fresh interpreter: the test process's own memory (models of other tests, a build's earlier reset) would blur it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, resource
import numpy as np
from bench.compress.peak_memory import peak_rss, reset_peak
MB = 2**20
big = np.ones(300 * MB // 8)  # an earlier, larger build in the same process
del big
lifetime = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
ok = reset_peak()
start, note = peak_rss(True)
small = np.ones(100 * MB // 8)
peak, _ = peak_rss(True)
unreset, unreset_note = peak_rss(False)
print(json.dumps({"ok": ok, "lifetime": lifetime, "start": start, "note": note, "peak": peak,
                  "unreset": unreset, "unreset_note": unreset_note,
                  "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""
MB = 2**20


def test_a_builds_peak_starts_at_the_build():
    out = json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                                    check=True, cwd=Path(__file__).resolve().parents[1]).stdout)
    if not out["ok"]:
        import pytest

        pytest.skip("this OS cannot reset a process's peak memory (/proc/self/clear_refs)")
    assert out["start"] <= out["lifetime"] - 250 * MB and "during the build" in out["note"]
    assert out["peak"] >= out["start"] + 90 * MB
    # without a reset the process's own peak is reported, and the note says since when
    assert out["unreset"] == out["maxrss"] and "since that process started" in out["unreset_note"]
