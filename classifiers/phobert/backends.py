"""Where the network runs: PyTorch fp32, PyTorch with dynamic int8 quantisation, or ONNX
Runtime (fp32 or int8) on an exported graph. Each takes padded `input_ids`/`attention_mask`
and returns the logits of every head, so the classifier does not care which one it has."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from classifiers.exceptions import ClassifierError

if TYPE_CHECKING:
    from classifiers.phobert.network import MultiHeadPhobert

__all__ = [
    "BACKENDS",
    "Backend",
    "OnnxBackend",
    "TorchBackend",
    "export_onnx",
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
    def __init__(self, network: MultiHeadPhobert, name: str = "torch") -> None:
        self.network = network.eval()
        self.name = name

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.network(torch.from_numpy(input_ids), torch.from_numpy(attention_mask))
        result: np.ndarray = out.float().numpy()
        return result


def torch_int8(network: MultiHeadPhobert) -> TorchBackend:
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
                f"no exported graph at {path}: run `canhbao phobert export --model {path.parent}`"
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


def export_onnx(network: MultiHeadPhobert, directory: Path) -> list[Path]:
    """Write `model.onnx` (fp32) and `model.int8.onnx` (dynamic int8 weights) beside the model.
    Uses the TorchScript exporter: it needs no extra packages and handles dynamic shapes."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32, int8 = onnx_file(directory, "onnx"), onnx_file(directory, "onnx-int8")
    ids = torch.full((2, 8), 5, dtype=torch.long)
    mask = torch.ones_like(ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python ifs
        torch.onnx.export(
            network.eval(),
            (ids, mask),
            str(fp32),
            dynamo=False,
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "logits": {0: "batch"},
            },
            opset_version=17,
        )
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return [fp32, int8]
