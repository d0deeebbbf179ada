"""A build's peak memory is its own, not the largest of every build before it in the same process."""

from __future__ import annotations

import resource

import numpy as np
import pytest

from bench.compress.peak_memory import peak_rss, reset_peak

MB = 2**20


def test_a_builds_peak_starts_at_the_build():
    big = np.ones(300 * MB // 8)  # an earlier, larger build in the same process
    del big
    lifetime = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if not reset_peak():
        pytest.skip("this OS cannot reset a process's peak memory (/proc/self/clear_refs)")
    start, note = peak_rss(True)
    assert start <= lifetime - 250 * MB and "during the build" in note
    small = np.ones(100 * MB // 8)
    peak, _ = peak_rss(True)
    assert peak >= start + 90 * MB
    del small


def test_without_a_reset_the_lifetime_peak_is_reported_and_said():
    peak, note = peak_rss(False)
    assert peak == resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 and "since that process started" in note
