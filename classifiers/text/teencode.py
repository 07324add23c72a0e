"""Common Vietnamese social-media shorthand ("teencode"), expanded before models read text.

Only unambiguous or overwhelmingly dominant readings are expanded; a shorthand whose meaning
depends on context (e.g. "t" = tôi/tao, "m" = mình/mày) is left alone rather than guessed.
Profanity abbreviations are mapped to one canonical spelling each: they carry the signal the
hostile-content models need, so spelling variants should not dilute it.
"""

from __future__ import annotations

__all__ = ["TEENCODE"]

TEENCODE: dict[str, str] = {
    # negation and common verbs
    "ko": "không", "k": "không", "kh": "không", "khg": "không", "hok": "không", "hông": "không",
    "khum": "không", "khong": "không", "kg": "không", "0k": "không",
    "dc": "được", "đc": "được", "dk": "được", "đk": "được", "duoc": "được",
    "bt": "biết", "bik": "biết", "bít": "biết", "biet": "biết",
    "j": "gì", "gi": "gì", "ji": "gì",
    "vs": "với", "voi": "với",
    "r": "rồi", "rùi": "rồi", "roài": "rồi",
    "cx": "cũng", "cg": "cũng", "cug": "cũng",
    "ms": "mới", "mik": "mình", "mk": "mình", "mn": "mọi người", "mng": "mọi người",
    "ng": "người", "ngta": "người ta",
    "trc": "trước", "trk": "trước", "sau": "sau",
    "tl": "trả lời", "nt": "nhắn tin", "ib": "nhắn tin",
    "ny": "người yêu", "bn": "bao nhiêu", "bnhiu": "bao nhiêu",
    "z": "vậy", "zậy": "vậy", "dzậy": "vậy", "v": "vậy",
    "ck": "chồng", "vk": "vợ", "ae": "anh em", "bh": "bây giờ", "bjo": "bây giờ",
    "lm": "làm", "thik": "thích", "iu": "yêu", "yêu": "yêu", "hum": "hôm",
    "nhìu": "nhiều", "nhiu": "nhiều", "wá": "quá", "qá": "quá", "wa": "quá",
    "thui": "thôi", "hem": "không", "hog": "không", "đag": "đang", "dag": "đang",
    "ok": "ok", "oke": "ok", "okela": "ok", "okie": "ok",
    # profanity: canonical spellings (signal for hostile-content models)
    "dm": "đm", "đm": "đm", "dmm": "đm", "đmm": "đm", "dcm": "đcm", "đcm": "đcm", "dkm": "đcm",
    "đkm": "đcm", "vl": "vl", "vkl": "vl", "vcl": "vl", "vklm": "vl", "cl": "cl", "clm": "cl",
    "cmm": "cmm", "cc": "cc", "loz": "lồn", "lol": "lồn", "l`": "lồn", "đéo": "đéo",
    "deo": "đéo", "đếch": "đéo", "dek": "đéo", "éo": "đéo",
}  # fmt: skip
