"""--batch-size auto and out-of-memory back-off: a batch that does not fit is split, and no request is lost."""

import pytest
import torch

from bench.models.requests import LoglikelihoodRequest as R

# contexts that share no prefix beyond BOS, so each is a row of its own
REQUESTS = [R(f"{i}: context with some words", f" option {k}") for i in range(6) for k in range(3)]


@pytest.fixture()
def backend(tiny_model_dir):
    from bench.models.hf import HFBackend
    from bench.models.loading import resolve

    return HFBackend(resolve("builtin:tiny-llama"), device="cpu", dtype="float32")


def limit_rows(backend, rows: int, tokens: int | None = None):
    """Make the model run out of memory on any batch of more than `rows` rows, and (the unpadded path: every
    tree of a batch end to end in one row) on a row of more than `tokens` tokens."""
    forward = backend.model.forward
    decoder = backend.model.get_decoder()
    decoder_forward = decoder.forward

    def guarded(*args, **kwargs):
        if kwargs["input_ids"].shape[0] > rows:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(*args, **kwargs)

    def guarded_decoder(*args, **kwargs):
        if tokens is not None and kwargs["input_ids"].shape[1] > tokens:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return decoder_forward(*args, **kwargs)

    backend.model.forward = guarded
    decoder.forward = guarded_decoder


@pytest.mark.parametrize("pack, flat", [(True, True), (True, False), (False, False)])
def test_out_of_memory_splits_the_batch_and_loses_nothing(backend, pack, flat):
    from bench.models.prefix_tree import PrefixTree

    backend.pack, backend.flat = pack, flat
    want = backend.loglikelihood(REQUESTS)
    encoded = [backend.encode_pair(r.context, r.continuation) for r in REQUESTS]
    tree = max(PrefixTree(encoded, range(3 * i, 3 * i + 3)).size for i in range(6))
    limit_rows(backend, 2, 2 * tree)
    got = backend.loglikelihood(REQUESTS)
    assert backend.oom_splits > 0 and backend.max_batch_size <= 2
    assert [g.logprob for g in got] == pytest.approx([w.logprob for w in want], abs=1e-5)


def test_auto_probes_a_batch_that_fits(tiny_model_dir):
    from bench.models.hf import HFBackend
    from bench.models.loading import resolve

    auto = HFBackend(resolve("builtin:tiny-llama"), device="cpu", dtype="float32", batch_size="auto")
    limit_rows(auto, 5)
    auto.loglikelihood(REQUESTS)
    assert auto.max_batch_size == 4 and auto.oom_splits == 0  # probed 1, 2, 4; 8 ran out


def test_device_map_auto_loads_and_scores(tiny_model_dir, tiny_backend):
    from bench.models.hf import HFBackend
    from bench.models.loading import resolve

    mapped = HFBackend(resolve("builtin:tiny-llama"), device="cpu", dtype="float32", device_map="auto")
    got, want = mapped.loglikelihood(REQUESTS[:3]), tiny_backend.loglikelihood(REQUESTS[:3])
    assert [g.logprob for g in got] == pytest.approx([w.logprob for w in want], abs=1e-5)


def test_bad_batch_size_is_a_user_error(tmp_path, capsys):
    from bench.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(["run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--batch-size", "many"])
    assert e.value.code == 2 and "batch-size" in capsys.readouterr().err


def test_unknown_backend_is_refused_before_any_folder(tmp_path, capsys):
    from bench.cli.main import main

    assert main(["run", "--model", "builtin:tiny-llama", "--tasks", "bbq", "--sample-data", "--backend", "nope",
                 "--out", str(tmp_path / "runs")]) == 2
    assert "--backend 'nope'" in capsys.readouterr().err and not (tmp_path / "runs").exists()
