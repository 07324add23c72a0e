"""Shared fixtures: a tiny model trained on tiny datasets written in the original formats, so
unit tests exercise the real training, loading and prediction code without the real data."""

from __future__ import annotations

import csv
import json
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from hypothesis import settings as hypothesis_settings

from alerting.store import SQLiteStore
from canhbao.settings import Settings, load_audit_key
from classifiers.baseline import BaselineModel, FeatureConfig, TrainingOptions, train_baseline
from schemas import SkipReason
from stream_jobs.dedup import DedupIndex
from stream_jobs.parse import ParseLimits
from stream_jobs.pipeline import PipelineContext
from stream_jobs.routing import RoutingPolicy

# Accounts in tests: a password the policy accepts, and argon2 at its cheapest (speed only).
PASSWORD = "mat-khau-du-dai-123"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

# Keys of at least 32 bytes: the audit chain and pseudonyms refuse shorter ones.
AUDIT_KEY = b"tests-audit-key-0123456789abcdef"
PSEUDONYM_KEY = b"tests-pseudonym-key-0123456789ab"


def audit_key_for(data_dir: Path) -> bytes:
    """The audit key a CLI run with CANHBAO_DATA_DIR=data_dir uses (generated there once)."""
    return load_audit_key(Settings(data_dir=data_dir))


# CI runs the property tests on a fixed sequence of examples, so a red build is reproducible and
# never a coin toss; developers' runs keep exploring new examples (and the database of failures).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "default")

# Inputs every model must survive, with the outcome `predict` gives each: (text, skip reason).
ODD_TEXTS: list[tuple[str, SkipReason | None]] = [
    ("", SkipReason.NO_TEXT),
    ("😂😂😂", SkipReason.NO_TEXT),
    ("a", SkipReason.NO_TEXT),
    ("Great article, thanks for sharing it with the world", SkipReason.NOT_VIETNAMESE),
    ("مرحبا بكم في المدينة الجميلة", SkipReason.NOT_VIETNAMESE),
    ("今天天气很好", SkipReason.NOT_VIETNAMESE),
    ("\u200b\u200c\u200d", SkipReason.NO_TEXT),
    ("bọn \u200bbắc kỳ cút hết", None),
    ("tiếng Việt xen English mixed một chút thôi nha", None),
    ("ngu \ud800 vãi thật sự đó", None),  # a lone surrogate from a broken decoder
    ("đm " * 350_000, None),  # ~1 MB
]

CLEAN = [
    "hôm nay trời đẹp quá đi chơi thôi",
    "cảm ơn bạn đã chia sẻ thông tin hữu ích",
    "bài viết rất hay và bổ ích",
    "chúc mọi người cuối tuần vui vẻ",
    "món này ngon lắm nha",
    "giá cả hợp lý giao hàng nhanh",
    "mình sẽ ủng hộ tiếp",
    "thành phố đẹp về đêm",
]
OFFENSIVE = [
    "ngu vãi cả chưởng",
    "đm nói nhảm vl",
    "câm mồm đi đồ ngu",
    "vcl thật sự luôn",
    "nói như cc",
    "óc chó vãi",
]
HATE = [
    "bọn bắc kỳ cút hết về quê",
    "lũ tàu khựa đáng chết hết",
    "bọn mọi rợ đốt hết đi",
    "đuổi hết lũ đồng bóng ra đảo",
    "giết hết bọn chúng nó đi",
]
MISINFO = [
    "khẩn cấp nước máy nhiễm độc không được uống chia sẻ ngay",
    "bác sĩ giấu kín nước chanh chữa khỏi ung thư",
    "tin nội bộ ngày mai phong tỏa toàn thành phố tích trữ gấp",
]
CLICKBAIT = [
    "sốc cô gái làm điều này cả xóm ngỡ ngàng",
    "không thể tin nổi điều số 3",
    "sự thật động trời khiến ai cũng rùng mình",
]
SPAM = [
    "inbox nhận ngay mã giảm giá 50k",
    "shop uy tín nhất vào mua ngay kẻo hết",
    "đánh giá cho có để nhận xu hahaha",
]


def _write(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _vary(rng: random.Random, text: str) -> str:
    return f"{text} {rng.choice(['', 'nha', 'thật', 'luôn', 'quá', 'ạ'])} {rng.randint(1, 99)}"


def write_tiny_datasets(root: Path, seed: int = 1) -> Path:
    """~300 rows per task in each dataset's original column layout."""
    rng = random.Random(seed)

    def hsd_rows(n: int) -> list[list[Any]]:
        rows: list[list[Any]] = []
        for _ in range(n):
            label = rng.choices([0, 1, 2], [6, 2, 2])[0]
            pool = (CLEAN, OFFENSIVE, HATE)[label]
            rows.append([_vary(rng, rng.choice(pool)), label])
        return rows

    _write(root / "vihsd/train.csv", ["free_text", "label_id"], hsd_rows(300))
    _write(root / "vihsd/dev.csv", ["free_text", "label_id"], [*hsd_rows(120), ["", 0]])
    _write(
        root / "vlsp2019_hsd/train.csv",
        ["", "id", "label_id", "free_text", "CLEAN", "OFFENSIVE", "HATE"],
        [[i, f"train_{i}", lab, text, 0, 0, 0] for i, (text, lab) in enumerate(hsd_rows(100))],
    )

    def binary(pos: list[str], n: int) -> list[tuple[str, int]]:
        out = []
        for _ in range(n):
            label = int(rng.random() < 0.35)
            out.append((_vary(rng, rng.choice(pos if label else CLEAN)), label))
        return out

    for name, n in (("ViCTSD_train.csv", 300), ("ViCTSD_valid.csv", 120)):
        _write(
            root / "victsd" / name,
            ["", "Comment", "Constructiveness", "Toxicity", "Title", "Topic"],
            [[i, t, 0, y, "tiêu đề", "XaHoi"] for i, (t, y) in enumerate(binary(OFFENSIVE, n))],
        )
    _write(
        root / "reintel/train.csv",
        [
            "id",
            "user_name",
            "post_message",
            "timestamp_post",
            "num_like_post",
            "num_comment_post",
            "num_share_post",
            "label",
        ],
        [
            [i, "ab" * 16, t, 1588939166, rng.choice(["12", "", "3.0", "x"]), 5, "19.0", y]
            for i, (t, y) in enumerate(binary(MISINFO, 300))
        ],
    )
    _write(
        root / "viclickbait/train.csv",
        [
            "id",
            "url",
            "title",
            "lead_paragraph",
            "category",
            "publish_datetime",
            "source",
            "thumbnail_url",
            "label",
        ],
        [
            [
                f"a{i}",
                "https://x.example/a",
                t,
                "đoạn mở đầu",
                "c",
                "2025-06-23T12:26:00+07:00",
                "Báo",
                "",
                "clickbait" if y else "non-clickbait",
            ]
            for i, (t, y) in enumerate(binary(CLICKBAIT, 300))
        ],
    )
    for name, n in (("train.csv", 300), ("dev.csv", 120)):
        _write(
            root / "vispamreviews" / name,
            ["Rating", "Comment", "Label", "SpamLabel"],
            [[5, t, y, 3 if y else 0] for t, y in binary(SPAM, n)],
        )

    def hos_rows(n: int) -> list[list[Any]]:
        rows: list[list[Any]] = []
        for i in range(n):
            text = _vary(rng, rng.choice(OFFENSIVE + HATE if rng.random() < 0.5 else CLEAN))
            offsets = [
                k
                for m in re.finditer(r"\w+", text)
                if m.group(0).lower() in _RUDE
                for k in range(*m.span())
            ]
            rows.append([i, text, str(offsets)])
        return rows

    _write(root / "vihos/train.csv", ["", "content", "index_spans"], hos_rows(200))
    _write(
        root / "vihos/dev.csv",
        ["", "content", "index_spans"],
        [[0, "ngu vãi", "[0, 1, 2]"], [1, "trời đẹp", "[]"], [2, "", "[]"], *hos_rows(60)],
    )
    return root


# Words the tiny ViHOS marks as the offending ones.
_RUDE = {
    "ngu",
    "đm",
    "vl",
    "cc",
    "óc",
    "chó",
    "vcl",
    "câm",
    "mồm",
    "khựa",
    "mọi",
    "rợ",
    "giết",
    "cút",
    "lũ",
    "bọn",
}


TINY_OPTIONS = TrainingOptions(
    features=FeatureConfig(word_bits=14, char_bits=14), c_grid=(4.0,), target_precision=0.5
)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_datasets(tmp_path_factory.mktemp("datasets"))


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model")
    train_baseline(tiny_data, out, TINY_OPTIONS, progress=lambda _: None)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path) -> BaselineModel:
    return BaselineModel.load(tiny_model_dir)


def tiny_corpus_words(data: Path) -> list[str]:
    """Word-segmented words of the tiny datasets: what a tiny PhoBERT tokenizer is learned from."""
    from classifiers.transformer.scaffold import segmented_words

    texts = [*CLEAN, *OFFENSIVE, *HATE, *MISINFO, *CLICKBAIT, *SPAM, "tiêu đề đoạn mở đầu"]
    return segmented_words(texts)


@pytest.fixture(scope="session")
def tiny_phobert_base(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PhoBERT-shaped network (2 layers, hidden 32) with random weights and its own BPE
    tokenizer (vocab.txt, bpe.codes): built here, never downloaded."""
    pytest.importorskip("torch", reason="the PhoBERT path needs the `transformer` extra")
    from classifiers.transformer.scaffold import build_random_phobert

    return build_random_phobert(
        tmp_path_factory.mktemp("phobert-base"), tiny_corpus_words(tiny_data), size="tiny"
    )


TINY_PHOBERT_STEPS = 300


@pytest.fixture(scope="session")
def tiny_phobert_dir(
    tiny_data: Path, tiny_phobert_base: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny network fine-tuned on the tiny datasets, every head, then exported to ONNX."""
    from classifiers.transformer.export import export_folder
    from classifiers.transformer.train import TransformerTrainingOptions, train_transformer

    out = tmp_path_factory.mktemp("phobert")
    options = TransformerTrainingOptions(
        base=str(tiny_phobert_base), max_steps=TINY_PHOBERT_STEPS, learning_rate=2e-3
    )
    train_transformer(tiny_data, out, options, progress=lambda _: None)
    export_folder(out)
    return out


@pytest.fixture(scope="session")
def tiny_e5_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The other tokenizer family: a multilingual-e5-shaped encoder folder (SentencePiece over
    unsegmented syllables, BERT layers, mean pooling) whose vocabulary holds the tiny datasets'
    words, converted by the real build code. Random weights."""
    pytest.importorskip("torch", reason="the transformer path needs the `transformer` extra")
    from classifiers.encoder.convert import write_encoder_folder
    from classifiers.encoder.e5s1 import read_e5s1
    from classifiers.text import normalize_text, text_for_model
    from tests.unit.encoder.tiny_image import corpus_pieces, write_tiny_e5s1

    texts = [*CLEAN, *OFFENSIVE, *HATE, *MISINFO, *CLICKBAIT, *SPAM, "tiêu đề đoạn mở đầu"]
    words = sorted({w for t in texts for w in text_for_model(normalize_text(t)).split()})
    root = tmp_path_factory.mktemp("tiny-e5")
    write_tiny_e5s1(root / "tiny.bin", pieces=corpus_pieces(words), positions=130)
    write_encoder_folder(read_e5s1(root / "tiny.bin"), root / "encoder", {"sha256": "1" * 64})
    return root / "encoder"


TINY_E5_STEPS = 300


@pytest.fixture(scope="session")
def tiny_e5_dir(
    tiny_data: Path, tiny_e5_base: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny e5 fine-tuned as `canhbao train encoder` does (top layer trained on cached
    states of the frozen one), 32-token windows, then exported to ONNX."""
    from classifiers.transformer.export import export_folder
    from classifiers.transformer.train import e5_options, train_transformer

    out = tmp_path_factory.mktemp("e5-tuned")
    options = e5_options(
        str(tiny_e5_base),
        max_steps=TINY_E5_STEPS,
        trainable_layers=1,
        max_length=32,
        overlap=8,
        learning_rate=2e-3,
        head_learning_rate=5e-3,
        batch_size=16,
    )
    train_transformer(tiny_data, out, options, progress=lambda _: None)
    export_folder(out)
    return out


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A multilingual-e5-shaped encoder folder (2 layers, hidden 32, random weights) converted
    from a tiny E5S1 image by the real build code, ONNX graphs included."""
    from classifiers.encoder.convert import write_encoder_folder
    from classifiers.encoder.e5s1 import read_e5s1
    from tests.unit.encoder.tiny_image import write_tiny_e5s1

    root = tmp_path_factory.mktemp("tiny-encoder")
    write_tiny_e5s1(root / "tiny.bin")
    write_encoder_folder(read_e5s1(root / "tiny.bin"), root / "encoder", {"sha256": "0" * 64})
    return root / "encoder"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    db = SQLiteStore(tmp_path / "store.db", audit_key=AUDIT_KEY)
    yield db
    db.close()


@pytest.fixture
def ctx(tiny_model: BaselineModel) -> PipelineContext:
    return PipelineContext(
        classifier=tiny_model,
        dedup=DedupIndex(capacity=10_000),
        policy=RoutingPolicy(),
        limits=ParseLimits(max_text_bytes=2_000),
        pseudonym_key=PSEUDONYM_KEY,
    )


def raw_post(**overrides: Any) -> dict[str, Any]:
    post: dict[str, Any] = {
        "platform": "facebook",
        "source_id": "fb-test",
        "external_id": "p1",
        "url": "https://facebook.example.vn/p1",
        "kind": "comment",
        "text": "hôm nay trời đẹp quá đi chơi thôi",
        "collected_at": "2026-11-28T10:00:00+07:00",
    }
    post.update(overrides)
    return post


def line(**overrides: Any) -> bytes:
    return json.dumps(raw_post(**overrides), ensure_ascii=False).encode("utf-8")
