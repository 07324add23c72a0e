"""The transformer path from the command line: train PhoBERT or the e5 encoder (and export),
eval, bench, and the embedded pipeline running on it — all on tiny models the tests build,
never a hub download."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("torch", reason="the PhoBERT path needs the `transformer` extra")

from canhbao._cli_common import EXIT_REJECTED
from canhbao.cli import app

pytestmark = pytest.mark.integration

runner = CliRunner()


def test_train_phobert_writes_and_exports_a_model(
    tmp_path: Path, env: dict[str, str], tiny_phobert_base: Path
) -> None:
    out = tmp_path / "phobert"
    args = ["train", "phobert", "--base", str(tiny_phobert_base), "--out", str(out)]
    result = runner.invoke(app, [*args, "--max-steps", "20", "--learning-rate", "1e-3"], env=env)
    assert result.exit_code == 0, result.output
    assert "hostile" in result.stdout
    card = json.loads((out / "transformer.json").read_text(encoding="utf-8"))
    assert card["training_steps"] == 20
    assert (out / "model.onnx").is_file()
    assert (out / "model.int8.onnx").stat().st_size < (out / "model.onnx").stat().st_size


def test_train_encoder_fine_tunes_the_top_layers_of_the_built_encoder(
    tmp_path: Path, env: dict[str, str], tiny_e5_base: Path
) -> None:
    out = tmp_path / "tuned"
    args = ["train", "encoder", "--base", str(tiny_e5_base), "--out", str(out), "--layers", "1"]
    result = runner.invoke(
        app, [*args, "--max-steps", "20", "--max-train-rows", "100", "--no-export"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "cached layer-1 states of hostile" in result.output
    card = json.loads((out / "transformer.json").read_text(encoding="utf-8"))
    assert (card["base"], card["frozen_layers"], card["pooling"]) == (str(tiny_e5_base), 1, "mean")
    assert card["options"]["max_train_rows"] == 100
    assert all(head["train_rows"] <= 100 for head in card["heads"].values())
    too_deep = runner.invoke(app, [*args[:-1], "3", "--max-steps", "1"], env=env)
    assert too_deep.exit_code == 1
    assert "trainable_layers must be 1…2" in too_deep.output


def test_train_encoder_fine_tunes_every_layer_on_every_row_where_asked(
    tmp_path: Path, env: dict[str, str], tiny_e5_base: Path
) -> None:
    import torch

    out = tmp_path / "full"
    args = ["train", "encoder", "--base", str(tiny_e5_base), "--out", str(out), "--layers", "2"]
    every_row = [*args, "--max-steps", "3", "--max-train-rows", "0", "--max-length", "48"]
    result = runner.invoke(app, [*every_row, "--device", "cpu", "--no-export"], env=env)
    assert result.exit_code == 0, result.output
    assert "training on cpu" in result.output
    card = json.loads((out / "transformer.json").read_text(encoding="utf-8"))
    assert (card["frozen_layers"], card["max_length"]) == (0, 48)
    assert card["options"]["max_train_rows"] is None
    assert card["options"]["device"] == "cpu"
    assert all(head["train_rows"] > 100 for head in card["heads"].values())
    if not torch.cuda.is_available():
        no_gpu = runner.invoke(app, [*every_row, "--device", "cuda", "--no-export"], env=env)
        assert no_gpu.exit_code == 1
        assert "torch sees no CUDA GPU" in no_gpu.output
    unknown = runner.invoke(app, [*every_row, "--device", "tpu"], env=env)
    assert unknown.exit_code == 2


def test_train_phobert_without_weights_is_a_clear_error(
    tmp_path: Path, env: dict[str, str]
) -> None:
    args = ["train", "phobert", "--base", "vinai/phobert-base", "--out", str(tmp_path / "x")]
    result = runner.invoke(app, args, env={**env, "HF_HOME": str(tmp_path / "hf")})
    assert result.exit_code == 1
    assert "cannot load the base model 'vinai/phobert-base'" in result.output


def test_eval_reads_a_phobert_folder(
    env: dict[str, str], tiny_data: Path, tiny_phobert_dir: Path
) -> None:
    args = ["eval", "--model", str(tiny_phobert_dir), "--backend", "onnx-int8"]
    result = runner.invoke(
        app, [*args, "--dataset", "vihsd", "--file", str(tiny_data / "vihsd/dev.csv")], env=env
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["model"].startswith("canhbao-transformer@")
    assert report["model"].endswith("+onnx-int8")
    assert report["macro_f1"] >= 0.9
    assert report["empty_rows"] == 1


def test_bench_transformer_ends_with_the_key_value_line(
    env: dict[str, str], tiny_phobert_dir: Path
) -> None:
    args = ["bench", "classifier", "--model", "transformer", "--model-dir", str(tiny_phobert_dir)]
    result = runner.invoke(app, [*args, "--posts", "60", "--batch-size", "16"], env=env)
    assert result.exit_code == 0, result.output
    assert "length mix" in result.stdout
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("model=transformer-onnx-int8 ")
    values = {k: float(v) for k, v in (kv.split("=") for kv in last.split()[1:])}
    assert values["posts_per_s"] > 0
    assert values["p95_ms"] > 0
    assert values["rss_mb"] > 0
    assert 0 < values["peak_fraction"] < 1  # a 2-layer toy is far from the peak


def test_the_embedded_pipeline_runs_on_phobert(env: dict[str, str], tiny_phobert_dir: Path) -> None:
    env = {
        **env,
        "CANHBAO_CLASSIFIER": "transformer",
        "CANHBAO_TRANSFORMER_MODEL": str(tiny_phobert_dir),
        "CANHBAO_TRANSFORMER_BACKEND": "int8",
    }
    result = runner.invoke(app, ["run", "--json"], env=env)
    assert result.exit_code == EXIT_REJECTED, result.output  # the sample's malformed lines
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["balanced"] is True
    assert summary["processed"] > 100


def test_phobert_export_writes_both_graphs(
    tmp_path: Path, env: dict[str, str], tiny_phobert_dir: Path
) -> None:
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_phobert_dir, model, ignore=shutil.ignore_patterns("*.onnx"))
    result = runner.invoke(app, ["transformer", "export", "--model", str(model)], env=env)
    assert result.exit_code == 0, result.output
    assert "model.int8.onnx" in result.stdout
    assert (model / "model.onnx").is_file()
    missing = runner.invoke(
        app, ["transformer", "export", "--model", str(tmp_path / "no")], env=env
    )
    assert missing.exit_code == 1
    assert "transformer.json" in missing.output
