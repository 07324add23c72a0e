"""The encoder as an ONNX graph, written straight from its weights (no torch, no tracing).

Inputs `input_ids` and `attention_mask` ([batch, tokens], int64); outputs `embedding`
([batch, hidden]: mean-pooled over the mask, L2-normalised — e5's sentence embedding),
`last_hidden_state`, and each inner layer's output (`tap_name`). The graph is BERT's, op for
op: embeddings summed and layer-normed, then per layer self-attention with the padding masked,
a residual layer norm, an erf GELU feed-forward and another residual layer norm. Opset 17
(`LayerNormalization`), which every ONNX Runtime since 1.14 runs. `quantize_int8` then makes
the `model.int8.onnx` that serves on CPU: int8 weights for every MatMul and for the
word-embedding table, activations quantised on the fly.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.encoder.convert import hf_state_dict
from classifiers.encoder.e5s1 import E5Image

__all__ = ["OPSET", "build_onnx", "quantize_int8", "tap_name", "write_onnx"]

OPSET = 17


def tap_name(layers: int) -> str:
    """The output holding the hidden states after the first `layers` layers (1 … L-1): what a
    model fine-tuned above them reads (`classifiers.hybrid.tuned`). ONNX Runtime computes every
    layer anyway; an output only costs its copy, and only when asked for."""
    return f"hidden_after_{layers}"


class _Graph:
    """Accumulates nodes and initialisers under unique names."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self._helper = helper
        self._numpy = numpy_helper
        self.nodes: list[Any] = []
        self.weights: list[Any] = []
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        self.weights.append(self._numpy.from_array(value, name))
        return name

    def op(self, kind: str, inputs: list[str], **attributes: Any) -> str:
        self._count += 1
        out = f"{kind.lower()}_{self._count}"
        self.nodes.append(self._helper.make_node(kind, inputs, [out], **attributes))
        return out

    def linear(self, x: str, weight: np.ndarray, bias: np.ndarray, name: str) -> str:
        # MatMul against the transposed weight, stored transposed: the form ORT quantises.
        w = self.const(f"{name}.weight_t", np.ascontiguousarray(weight.T))
        return self.op("Add", [self.op("MatMul", [x, w]), self.const(f"{name}.bias", bias)])

    def layer_norm(
        self, x: str, weight: np.ndarray, bias: np.ndarray, eps: float, name: str
    ) -> str:
        return self.op(
            "LayerNormalization",
            [x, self.const(f"{name}.weight", weight), self.const(f"{name}.bias", bias)],
            axis=-1,
            epsilon=eps,
        )


def _i64(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _f32(value: float) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)


def build_onnx(image: E5Image) -> Any:
    """The `onnx.ModelProto` of the encoder."""
    from onnx import TensorProto, helper

    s = image.shape
    w = hf_state_dict(image)
    g = _Graph()
    head_dim = s.hidden // s.heads
    one, half = g.const("one_f", _f32(1.0)), g.const("half_f", _f32(0.5))
    inv_sqrt2 = g.const("inv_sqrt2", _f32(1 / math.sqrt(2)))
    # embeddings: word + position (0…T-1) + token type 0, layer-normed
    word_table = g.const("word_embeddings", w["embeddings.word_embeddings.weight"])
    position_table = g.const("position_embeddings", w["embeddings.position_embeddings.weight"])
    tokens = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const("one", _i64([1]))])
    last = g.op("Squeeze", [tokens, g.const("axis0", _i64([0]))])
    start = g.const("zero_scalar", np.asarray(0, np.int64))
    positions = g.op("Range", [start, last, g.const("one_scalar", np.asarray(1, np.int64))])
    x = g.op("Add", [g.op("Gather", [word_table, "input_ids"]),
                     g.op("Gather", [position_table, positions])])  # fmt: skip
    x = g.op("Add", [x, g.const("token_type_0", w["embeddings.token_type_embeddings.weight"][0])])
    x = g.layer_norm(
        x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], s.eps, "emb.ln"
    )
    # padding → a large negative score before softmax, shaped [batch, 1, 1, tokens]
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    blocked = g.op("Mul", [g.op("Sub", [one, mask]), g.const("minus_big", _f32(-1e4))])
    bias = g.op("Unsqueeze", [blocked, g.const("axes12", _i64([1, 2]))])
    split_heads = g.const("split_heads", _i64([0, 0, s.heads, head_dim]))
    merge_heads = g.const("merge_heads", _i64([0, 0, s.hidden]))
    scale = g.const("scale", _f32(1.0 / math.sqrt(head_dim)))
    for layer in range(s.layers):
        p = f"encoder.layer.{layer}."

        def heads(name: str, perm: list[int], x: str = x, p: str = p) -> str:
            weight, bias_ = (
                w[f"{p}attention.self.{name}.weight"],
                w[f"{p}attention.self.{name}.bias"],
            )
            projected = g.linear(x, weight, bias_, p + name)
            return g.op("Transpose", [g.op("Reshape", [projected, split_heads])], perm=perm)

        q, k = heads("query", [0, 2, 1, 3]), heads("key", [0, 2, 3, 1])
        v = heads("value", [0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), bias])
        context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        context = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        attended = g.linear(
            context, w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"],
            p + "attention.output",
        )  # fmt: skip
        x = g.layer_norm(
            g.op("Add", [x, attended]), w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"], s.eps, p + "attention.ln",
        )  # fmt: skip
        mid = g.linear(
            x, w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"], p + "ffn.in"
        )
        # GELU, the erf form: x · ½ · (1 + erf(x / √2))
        erf = g.op("Erf", [g.op("Mul", [mid, inv_sqrt2])])
        gelu = g.op("Mul", [mid, g.op("Mul", [g.op("Add", [erf, one]), half])])
        out = g.linear(gelu, w[p + "output.dense.weight"], w[p + "output.dense.bias"], p + "ffn")
        x = g.layer_norm(
            g.op("Add", [x, out]), w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"], s.eps, p + "output.ln",
        )  # fmt: skip
        if layer < s.layers - 1:  # a tap: what layer `layer + 1`'s successors read
            g.nodes.append(helper.make_node("Identity", [x], [tap_name(layer + 1)]))
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    # mean over the unmasked tokens, then L2
    weights = g.op("Unsqueeze", [mask, g.const("axis2", _i64([2]))])
    axis1 = g.const("axis1", _i64([1]))
    summed = g.op("ReduceSum", [g.op("Mul", [x, weights]), axis1], keepdims=0)
    count = g.op("ReduceSum", [weights, axis1], keepdims=0)
    mean = g.op("Div", [summed, g.op("Max", [count, g.const("tiny", _f32(1e-9))])])
    length = g.op("ReduceL2", [mean], axes=[-1], keepdims=1)  # axes an attribute until opset 18
    length = g.op("Max", [length, g.const("tinier", _f32(1e-12))])
    g.nodes.append(helper.make_node("Div", [mean, length], ["embedding"]))
    graph = helper.make_graph(
        g.nodes,
        "multilingual-e5-small",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", s.hidden]),
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", s.hidden]
            ),
            *(
                helper.make_tensor_value_info(
                    tap_name(n), TensorProto.FLOAT, ["batch", "tokens", s.hidden]
                )
                for n in range(1, s.layers)
            ),
        ],
        initializer=g.weights,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="canhbao"
    )
    model.ir_version = 8  # what ONNX Runtime ≥ 1.14 reads
    return model


def write_onnx(image: E5Image, path: Path) -> Path:
    import onnx

    model = build_onnx(image)
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path))
    return path


def quantize_int8(fp32: Path, int8: Path) -> Path:
    """Dynamic int8, per output channel: every MatMul's weights and the embedding tables
    (Gather), 470 → 118 MB. Per channel keeps the embeddings at cosine 0.995–0.997 of fp32's on
    Vietnamese sentences; one scale per tensor gave 0.987–0.990 (measured here, 2026-12-02)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantiser logs one line per activation on the root logger (and advises a
    # shape-inference pre-processing pass, not tried here): quiet while it runs.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(fp32),
            str(int8),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gather"],
            per_channel=True,
        )
    finally:
        root.setLevel(level)
    return int8
