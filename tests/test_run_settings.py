"""One way to configure a run: matrix fields are the `qdbench run` flags; CLI over file; runs keyed by settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.errors import UserError
from tests.conftest import the_run
from tests.test_cli import cli, run_bbq


def test_every_run_flag_is_a_matrix_field():
    from bench.cli.options import NOT_OPTIONS, options_model, run_parser

    flags = {a.dest for a in run_parser()._actions if a.option_strings and a.dest not in NOT_OPTIONS}
    assert {"classifier", "classifier_path", "samples", "seed", "limit", "dtype", "batch_tokens"} <= flags
    assert set(options_model().model_fields) == flags


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return path


def per_task(path: Path, argv: list[str]):
    from bench.cli.main import build_parser
    from bench.cli.matrix import matrix_from, per_task_options
    from bench.cli.options import given

    args = build_parser().parse_args(argv)
    matrix, where = matrix_from(args)
    return per_task_options(matrix, str(where), vars(args), given(argv))


def test_file_options_per_task_entries_and_command_line(tmp_path):
    path = write(tmp_path, "families: [{base: builtin:tiny-llama}]\nseed: 7\nlimit: 30\nclassifier: detoxify:unbiased\n"
                           "dtype: float32\ntasks:\n  bbq: {limit: 12}\n  rtp_toxicity: {options: {samples: 5}}\n"
                           "  crows_pairs:\n")
    opts = per_task(path, ["run", str(path)])
    assert (opts["bbq"].limit, opts["crows_pairs"].limit, opts["rtp_toxicity"].limit) == (12, 30, 30)
    assert opts["bbq"].seed == 7 and opts["bbq"].dtype == "float32"
    assert opts["rtp_toxicity"].task_options["samples"] == 5
    assert opts["rtp_toxicity"].task_options["classifier"] == "detoxify:unbiased"
    opts = per_task(path, ["run", str(path), "--limit", "3", "--seed", "1234", "--samples", "2",
                           "--classifier", "builtin:tiny-detoxify"])
    assert {o.limit for o in opts.values()} == {3} and opts["bbq"].seed == 1234  # the default value, given
    assert opts["rtp_toxicity"].task_options["samples"] == 2
    assert opts["rtp_toxicity"].task_options["classifier"] == "builtin:tiny-detoxify"


def test_matrix_with_a_suite(tmp_path):
    path = write(tmp_path, "families: [{base: builtin:tiny-llama}]\nsuite: default\ntasks: {bbq: {limit: 5}}\n")
    opts = per_task(path, ["run", str(path)])
    assert opts["bbq"].limit == 5 and opts["stereoset"].limit == 2000
    assert opts["rtp_toxicity"].task_options["samples"] == 25


def test_tasks_or_suite_on_the_command_line_replace_the_matrixs(tmp_path):
    path = write(tmp_path, "families: [{base: builtin:tiny-llama}]\nsuite: default\ntasks: {bbq: {limit: 5}}\n")
    opts = per_task(path, ["run", str(path), "--tasks", "bbq,hans"])
    assert sorted(opts) == ["bbq", "hans"]
    assert opts["bbq"].limit == 5 and opts["hans"].limit == 3000  # the matrix's entries (its suite's) kept
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\ntasks:\n  crows_pairs: {limit: 9}\n")
    opts = per_task(path, ["run", str(path), "--suite", str(suite)])
    assert sorted(opts) == ["crows_pairs"] and opts["crows_pairs"].limit == 9
    with pytest.raises(UserError, match="one of --tasks or --suite"):
        per_task(path, ["run", str(path), "--tasks", "bbq", "--suite", str(suite)])
    with pytest.raises(UserError, match="nosuch"):
        per_task(path, ["run", str(path), "--suite", "nosuch"])


def test_variants_on_the_command_line_keep_only_those(tmp_path):
    from bench.cli.main import build_parser
    from bench.cli.matrix import matrix_from
    from bench.exec.plan import plan

    path = write(tmp_path, "families:\n  - base: builtin:tiny-llama\n    variants: [rtn-w8a16, rtn-w4a16, "
                           "{name: s1, distill: {student: teacher, steps: 1}}]\ntasks: [bbq]\n")

    def variants(*extra: str) -> list[str]:
        matrix, _ = matrix_from(build_parser().parse_args(["run", str(path), *extra]))
        return [r.variant for r in plan(matrix)]

    assert variants() == ["base", "rtn-w8a16", "rtn-w4a16", "s1"]
    assert variants("--variants", "s1,rtn-w4a16") == ["base", "rtn-w4a16", "s1"]  # the matrix's order
    with pytest.raises(UserError, match="--variants: nope not in the matrix"):
        variants("--variants", "rtn-w4a16,nope")
    with pytest.raises(UserError, match="--variants picks variants of a matrix"):
        matrix_from(build_parser().parse_args(["run", "--family", "x.yaml", "--tasks", "bbq", "--variants", "a"]))


@pytest.mark.parametrize("text, words", [
    ("seeed: 3\n", "field 'seeed'"),
    ("sample_data: sometimes\n", "field 'sample_data'"),
    ("limit: many\n", "field 'limit'"),
])
def test_bad_matrix_options_name_the_field(tmp_path, text, words):
    path = write(tmp_path, "families: [{base: builtin:tiny-llama}]\ntasks: [bbq]\n" + text)
    with pytest.raises(UserError, match=words):
        per_task(path, ["run", str(path)])


def test_another_limit_or_seed_gets_its_own_folder(tmp_path, tiny_model_dir):
    out = tmp_path / "runs"
    for extra in (["--limit", "6"], ["--limit", "8"], ["--limit", "6", "--seed", "5"], ["--limit", "6"]):
        result = run_bbq(out, "--sample-data", *extra)
        assert result.returncode == 0, result.stderr
    folders = sorted(p.parent for p in (out / "tiny-llama" / "bbq").rglob("manifest.json"))
    assert len(folders) == 3 and all(p.parent == out / "tiny-llama" / "bbq" for p in folders)
    manifests = [json.loads((p / "manifest.json").read_text()) for p in folders]
    assert {(m["data"]["n_items"], m["seed"]) for m in manifests} == {(6, 1234), (8, 1234), (6, 5)}
    assert all(p.name == m["settings_key"] for p, m in zip(folders, manifests, strict=True))
    listed = cli("show", "--list", str(out))
    assert listed.returncode == 0 and all(p.name in listed.stdout for p in folders)


def test_show_loads_no_model_libraries(tmp_path, tiny_model_dir):
    out = tmp_path / "runs"
    assert run_bbq(out, "--sample-data", "--limit", "4").returncode == 0
    code = ("import sys; from bench.cli.main import main; rc = main(['show', sys.argv[1]]); "
            "heavy = [m for m in ('torch', 'transformers', 'pandas') if m in sys.modules]; "
            "print('HEAVY', heavy); sys.exit(rc)")
    result = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout


def test_compare_picks_runs_by_settings(tmp_path, tiny_model_dir):
    from bench.compare.family import find_family

    pytest.importorskip("llmcompressor")
    path = write(tmp_path, "families: [{base: builtin:tiny-llama, variants: [rtn-w8a16]}]\ntasks: [bbq]\n"
                           "sample_data: true\n")
    out = tmp_path / "runs"
    for limit in ("4", "6"):
        assert cli("run", str(path), "--out", str(out), "--limit", limit, "--quiet").returncode == 0
    found = find_family(out, "tiny-llama")
    assert len(found) == 2 and all(k.startswith("bbq@") for k in found)
    for base, (variant,) in found.values():
        assert base.name == variant.name  # same settings hash
    key = next(iter(found)).split("@")[1]
    assert list(find_family(out, "tiny-llama", settings=key[:6])) == ["bbq"]
    result = cli("compare", "--family", "tiny-llama", "--runs", str(out), "--no-plots", "--resamples", "50")
    assert result.returncode == 0, result.stderr


def test_published_family_runs_teacher_and_students(tmp_path, tiny_model_dir):
    fam = tmp_path / "tiny-kd.yaml"
    fam.write_text("name: tiny-kd\ndescription: offline stand-in for a published family\nsame_tokenizer: true\n"
                   "teacher: {id: 'builtin:tiny-llama'}\nstudents:\n  - name: small\n"
                   "    id: 'builtin:tiny-llama-small'\n"
                   "    method: a smaller random model standing in for a distilled student\n")
    out = tmp_path / "runs"
    result = cli("run", "--family", str(fam), "--tasks", "bbq", "--limit", "6", "--sample-data", "--out", str(out),
                 "--quiet")
    assert result.returncode == 0, result.stderr
    base, student = the_run(out / "tiny-kd" / "base"), the_run(out / "tiny-kd" / "small")
    m = json.loads((student / "manifest.json").read_text())
    assert m["variant"]["recipe"]["method"] == "published" and m["variant"]["family"] == "tiny-kd"
    assert base.name == student.name
    compared = cli("compare", "--family", "tiny-kd", "--runs", str(out), "--no-plots", "--resamples", "50")
    assert compared.returncode == 0, compared.stderr
    assert cli("run", "--family", str(fam), "--out", str(out)).returncode == 2  # needs --tasks or --suite


def test_third_party_output_goes_to_the_log(tmp_path):
    """A fresh cache: the variant is built (llm-compressor, compressed-tensors) and loaded, all quietly."""
    pytest.importorskip("llmcompressor")
    path = write(tmp_path, "families: [{base: builtin:tiny-llama, variants: [rtn-w8a16]}]\ntasks: [bbq]\n"
                           "sample_data: true\nlimit: 4\n")
    env = {"QDBENCH_HOME": str(tmp_path / "home")}
    from tests.test_cli import qdbench

    result = qdbench("run", str(path), "--out", str(tmp_path / "runs"), env=env)
    assert result.returncode == 0, result.stderr
    assert len(result.stderr.encode()) < 2048, result.stderr
    for noise in ("it/s]", "No accelerator", "Compressing model", "is_fx_tracing"):
        assert noise not in result.stderr and noise not in result.stdout
    assert "4/4" in result.stderr and "items/s" in result.stderr  # qdbench's own progress display
    assert "No accelerator available" in (tmp_path / "runs" / "qdbench.log").read_text()
    quiet = qdbench("run", str(path), "--out", str(tmp_path / "runs"), "--quiet", env=env)
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_progress_advances_per_batch_within_a_chunk():
    from bench.exec.progress import ItemProgress

    with ItemProgress("m · t", total=20, done=4) as bar:
        task = bar._progress.tasks[0]
        advance = bar.within(8, 32)  # 8 items whose 32 requests the backend answers in batches
        advance(8)
        assert task.completed == 6
        advance(100)  # never past the chunk
        assert task.completed == 12
        bar.finish_chunk(8)
        assert task.completed == 12 == bar.done
    assert ItemProgress("q", total=3, quiet=True).within(1, 1) is None


def test_toxicity_matrix_runs_offline_with_command_line_classifier(tmp_path, tiny_model_dir):
    pytest.importorskip("llmcompressor")
    matrix = Path(__file__).resolve().parents[1] / "configs" / "matrices" / "toxicity.yaml"
    out = tmp_path / "runs"
    result = cli("run", str(matrix), "--classifier", "builtin:tiny-detoxify", "--samples", "2", "--limit", "3",
                 "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    for variant in ("base", "rtn-w8a16"):
        manifest = json.loads((the_run(out / "tiny-llama" / variant) / "manifest.json").read_text())
        assert manifest["task"]["options"]["classifier"] == "builtin:tiny-detoxify"
        assert manifest["task"]["options"]["samples"] == 2 and manifest["data"]["n_items"] == 3
