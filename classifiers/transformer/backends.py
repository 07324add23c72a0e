"""Where the network runs: PyTorch fp32, PyTorch with dynamic int8 quantisation, or ONNX
Runtime (fp32 or int8) on an exported graph. Each takes padded `input_ids`/`attention_mask`
and returns the logits of every head, so the classifier does not care which one it has."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from classifiers.exceptions import ClassifierError

if TYPE_CHECKING:
    from classifiers.transformer.network import MultiHeadEncoder

__all__ = [
    "BACKENDS",
    "TOP_FILES",
    "Backend",
    "OnnxBackend",
    "TorchBackend",
    "export_onnx",
    "export_top_onnx",
    "onnx_file",
    "torch_int8",
]

BACKENDS = ("torch", "int8", "onnx", "onnx-int8")
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}


class Backend(Protocol):
    name: str

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray: ...


def onnx_file(directory: Path, backend: str) -> Path:
    return directory / ONNX_FILES[backend]


class TorchBackend:
    def __init__(self, network: MultiHeadEncoder, name: str = "torch") -> None:
        self.network = network.eval()
        self.name = name

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        # Where the weights are: a network trained on a GPU is scored there before it is saved.
        weight = next(self.network.parameters(), None)
        device = weight.device if weight is not None else torch.device("cpu")
        with torch.inference_mode():
            out = self.network(
                torch.from_numpy(input_ids).to(device), torch.from_numpy(attention_mask).to(device)
            )
        result: np.ndarray = out.float().cpu().numpy()
        return result


def torch_int8(network: MultiHeadEncoder) -> TorchBackend:
    """Linear layers with int8 weights, activations quantised on the fly (about 3× fp32 speed
    on this CPU for PhoBERT-base shapes; the embeddings stay fp32)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's eager quantisation is deprecated, not gone
        quantized = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            network.eval(), {torch.nn.Linear}, dtype=torch.qint8
        )
    return TorchBackend(quantized, name="int8")


class OnnxBackend:
    def __init__(self, path: Path, name: str, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ClassifierError(
                "the ONNX backend needs the `onnx` extra: pip install 'canhbao[onnx]'"
            ) from exc
        if not path.is_file():
            raise ClassifierError(
                f"no exported graph at {path}:"
                f" run `canhbao transformer export --model {path.parent}`"
            )
        options = ort.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.name = name

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        (out,) = self._session.run(
            ["logits"], {"input_ids": input_ids, "attention_mask": attention_mask}
        )
        return np.asarray(out, dtype=np.float32)


def export_onnx(network: MultiHeadEncoder, directory: Path) -> list[Path]:
    """Write `model.onnx` (fp32) and `model.int8.onnx` (dynamic int8 weights) beside the model."""
    import torch

    ids = torch.full((2, 8), 5, dtype=torch.long)
    paths = onnx_file(directory, "onnx"), onnx_file(directory, "onnx-int8")
    return _export_both(network.eval(), ("input_ids", ids), torch.ones_like(ids), paths)


TOP_FILES = {"onnx": "top.onnx", "onnx-int8": "top.int8.onnx"}


def export_top_onnx(network: MultiHeadEncoder, start: int, directory: Path) -> list[Path]:
    """`top.onnx` and `top.int8.onnx`: layers `start…` and the heads, from `hidden_states`
    ([batch, tokens, hidden], the output of layer `start`) and `attention_mask` to `logits`."""
    import torch

    class Top(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.network.forward_top(states, mask, start)

    states = torch.zeros((2, 8, int(network.encoder.config.hidden_size)), dtype=torch.float32)
    mask = torch.ones((2, 8), dtype=torch.long)
    paths = directory / TOP_FILES["onnx"], directory / TOP_FILES["onnx-int8"]
    return _export_both(Top().eval(), ("hidden_states", states), mask, paths)


def _export_both(
    module: Any, first: tuple[str, Any], mask: Any, paths: tuple[Path, Path]
) -> list[Path]:
    """`module(first, attention_mask) → logits` as ONNX, fp32 then dynamic int8. The
    TorchScript exporter: it needs no extra packages and handles dynamic shapes."""
    import torch

    name, example = first
    fp32, int8 = paths
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python ifs
        torch.onnx.export(
            module,
            (example, mask),
            str(fp32),
            dynamo=False,
            input_names=[name, "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                name: {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "logits": {0: "batch"},
            },
            opset_version=17,
        )
    _quietly_quantize(fp32, int8)
    return [fp32, int8]


def _quietly_quantize(fp32: Path, int8: Path) -> None:
    """Dynamic int8 weights; the quantiser logs a line per tensor on the root logger, silenced
    while it runs."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
