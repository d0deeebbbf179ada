"""The output projection over distinct scored positions: the same log-probabilities and argmax answers as a
full log-softmax at every (position, target) pair, however often a position repeats and however the positions
fall into chunks; ties at the maximum keep argmax's first-index rule."""

import torch

from bench.models.varlen import target_logprobs, token_parts


def reference(logits, targets):
    lp = torch.log_softmax(logits.double(), -1)
    return lp[torch.arange(len(targets)), targets], logits.argmax(-1) == targets


def test_token_parts_equals_log_softmax_and_keeps_first_index_ties():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 50, generator=g) * 4
    logits[1, 7] = logits[1, 3] = logits[1].max() + 1  # a tie: argmax is 3, so target 7 is not greedy
    logits[2, 9] = logits[2].max() + 1
    targets = torch.tensor([0, 7, 9, 5, 3, 3])
    targets[0] = logits[0].argmax()
    want_lp, want_greedy = reference(logits, targets)
    lp, greedy = token_parts(logits.clone(), targets)
    assert torch.allclose(lp, want_lp, atol=1e-5)
    assert greedy.tolist() == want_greedy.tolist() == [True, False, True, *want_greedy[3:].tolist()]
    lp3, _ = token_parts(logits.clone(), targets)
    assert torch.equal(lp3, lp)  # the in-place log-sum-exp is deterministic


def test_repeated_positions_go_through_the_head_once_and_score_as_apart():
    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(9, 16, generator=g)
    head = torch.nn.Linear(16, 40, bias=False)
    calls = []
    head.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    positions = torch.tensor([4, 0, 4, 4, 8, 0, 2])
    targets = torch.tensor([1, 2, 3, 1, 39, 0, 5])
    with torch.no_grad():
        want_lp, want_greedy = reference(head(hidden[positions]), targets)
        calls.clear()
        for chunk in (1, 2, 1024):
            lp, greedy = target_logprobs(head, hidden, positions, targets, chunk=chunk)
            assert torch.allclose(lp, want_lp, atol=1e-5)
            assert greedy.tolist() == want_greedy.tolist()
    assert calls[-1] == 4  # four distinct positions, one chunk
    assert sum(calls[:4]) == 4  # chunk 1: each distinct position once


def test_keep_freed_memory_leaves_a_users_own_malloc_settings(monkeypatch):
    from bench.models import host_memory

    monkeypatch.setattr(host_memory, "_done", [])
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    called = []
    monkeypatch.setattr(host_memory.ctypes, "CDLL", lambda *a: called.append(a))
    assert host_memory.keep_freed_memory() is False
    assert called == []


def test_openmp_threads_sleep_unless_the_user_chose(monkeypatch):
    from bench import threads

    for k in threads.USER_SETTINGS:
        monkeypatch.delenv(k, raising=False)
    threads.wait_passively()
    assert threads.os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    monkeypatch.setenv("GOMP_SPINCOUNT", "300000")
    threads.wait_passively()
    assert "OMP_WAIT_POLICY" not in threads.os.environ


def test_the_command_sets_the_wait_policy_before_torch_loads():
    import subprocess
    import sys

    code = ("import sys, os; from bench.cli import main as m; "
            "m.build_parser = lambda: (_ for _ in ()).throw(SystemExit(0 if 'torch' not in sys.modules and "
            "os.environ.get('OMP_WAIT_POLICY') == 'PASSIVE' else 1)); m.main([])")
    assert subprocess.run([sys.executable, "-c", code], env=threads_free_env()).returncode == 0


def threads_free_env() -> dict:
    import os

    from bench.threads import USER_SETTINGS

    return {k: v for k, v in os.environ.items() if k not in USER_SETTINGS}
