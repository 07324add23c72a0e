"""Claims from files: schema.org `ClaimReview` JSON-LD (what fact-checkers publish) and CSV.

Every record is checked before anything is written: a file with any bad record is refused
whole, and the error lists each bad record with its place (line, or JSON position) and why —
all of them, not the first — so a fixed file imports in one more try, never half."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alerting.claims.library import checked_draft
from alerting.exceptions import ClaimError
from schemas import ClaimDraft, ClaimRating, Rebuttal

__all__ = ["CSV_COLUMNS", "read_claim_file", "read_claimreview", "read_csv_claims"]

CSV_COLUMNS = ("statement", "variants", "rating", "rebuttal_text", "issuer", "rebuttal_url",
               "published_on", "tags", "appearances")  # fmt: skip
_MAX_ERRORS_SHOWN = 50

# ClaimReview ratings are free text (`alternateName`): the usual words, English and Vietnamese.
_RATINGS = {
    ClaimRating.FALSE: {"false", "sai", "sai sự thật", "tin giả", "fake", "bịa đặt",
                        "pants on fire", "không đúng sự thật"},
    ClaimRating.MISLEADING: {"misleading", "gây hiểu lầm", "sai lệch", "partly false",
                             "một phần sai", "mostly false", "half true"},
    ClaimRating.MISSING_CONTEXT: {"missing context", "thiếu bối cảnh", "out of context",
                                  "thiếu ngữ cảnh"},
    ClaimRating.UNPROVEN: {"unproven", "unverified", "chưa kiểm chứng", "chưa được xác thực"},
}  # fmt: skip
_RATING_WORDS = {word: rating for rating, words in _RATINGS.items() for word in words}


def rating_from_text(text: str) -> ClaimRating:
    key = " ".join(text.casefold().split())
    if key in _RATING_WORDS:
        return _RATING_WORDS[key]
    if key in {r.value for r in ClaimRating}:
        return ClaimRating(key)
    raise ValueError(f"unknown rating {text!r} (known: {', '.join(sorted(_RATING_WORDS))})")


def _refuse(errors: list[str], path: Path) -> ClaimError:
    shown = errors[:_MAX_ERRORS_SHOWN]
    more = f"\n  … and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
    return ClaimError(
        f"{path}: {len(errors)} bad record(s), nothing imported:\n  " + "\n  ".join(shown) + more
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)


def _date(value: Any) -> date:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a publication date is required (YYYY-MM-DD)")
    return date.fromisoformat(value.strip()[:10])


def _name(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, list) and value:
        return _name(value[0])
    return str(value or "").strip()


def _reviews(document: Any) -> Iterable[tuple[str, Any]]:
    """(position, ClaimReview object) for every ClaimReview in a JSON-LD document: one object,
    a list of them, or an `@graph`."""
    if isinstance(document, list):
        for i, item in enumerate(document):
            for where, review in _reviews(item):
                yield f"[{i}]{where}", review
        return
    if not isinstance(document, dict):
        yield "", document
        return
    if "@graph" in document:
        for where, review in _reviews(document["@graph"]):
            yield f"@graph{where}", review
        return
    if "ClaimReview" in _types(document) or document.get("@type") is None:
        yield "", document  # one without a type is reported below as not a ClaimReview


def _types(obj: dict[str, Any]) -> list[Any]:
    kind = obj.get("@type")
    return kind if isinstance(kind, list) else [kind]


def _from_claimreview(review: Any) -> ClaimDraft:
    if not isinstance(review, dict) or "ClaimReview" not in _types(review):
        raise ValueError("not a ClaimReview object (@type)")
    statement = str(review.get("claimReviewed") or "").strip()
    rating_obj = review.get("reviewRating") or {}
    if not isinstance(rating_obj, dict):
        raise ValueError("reviewRating must be an object")
    rating_text = str(rating_obj.get("alternateName") or rating_obj.get("name") or "").strip()
    if not rating_text:
        raise ValueError("reviewRating.alternateName is required")
    item = review.get("itemReviewed") or {}
    appearance = item.get("appearance") if isinstance(item, dict) else None
    seen = appearance if isinstance(appearance, list) else [appearance] if appearance else []
    urls = [a.get("url") if isinstance(a, dict) else a for a in seen]
    body = str(review.get("reviewBody") or rating_obj.get("ratingExplanation")
               or review.get("description") or "").strip()  # fmt: skip
    rebuttal = Rebuttal(
        text=body, issuer=_name(review.get("author")), url=str(review.get("url") or ""),
        published_on=_date(review.get("datePublished")),
    )  # fmt: skip
    keywords = review.get("keywords") or []
    tags = keywords.split(",") if isinstance(keywords, str) else [str(k) for k in keywords]
    return checked_draft(ClaimDraft(
        statement=statement, rating=rating_from_text(rating_text), rebuttal=rebuttal,
        tags=tags, appearances=[str(u) for u in urls if u],
    ))  # fmt: skip


def read_claimreview(path: Path) -> list[ClaimDraft]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ClaimError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from exc
    attempts = (
        (where or "document", lambda review=review: _from_claimreview(review))
        for where, review in _reviews(document)
    )
    return _all_or_nothing(path, attempts, "no ClaimReview in it")


def _all_or_nothing(
    path: Path, attempts: Iterable[tuple[str, Callable[[], ClaimDraft]]], empty: str
) -> list[ClaimDraft]:
    """Every record's draft, or a `ClaimError` listing each record that failed (where, why)."""
    drafts, errors = [], []
    for where, attempt in attempts:
        try:
            drafts.append(attempt())
        except (ValueError, ValidationError, ClaimError) as exc:
            errors.append(f"{where}: {_reason(exc)}")
    if errors:
        raise _refuse(errors, path)
    if not drafts:
        raise ClaimError(f"{path}: {empty}")
    return drafts


def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split("|") if part.strip()]


def read_csv_claims(path: Path) -> list[ClaimDraft]:
    """Columns (header row): statement, rating, rebuttal_text, issuer, rebuttal_url,
    published_on, and optionally variants, tags, appearances (several: separated by `|`)."""
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = {"statement", "rating", "rebuttal_text", "issuer", "rebuttal_url", "published_on"}
    missing -= set(reader.fieldnames or [])
    if missing:
        raise ClaimError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    unknown = set(reader.fieldnames or []) - set(CSV_COLUMNS)
    if unknown:
        raise ClaimError(f"{path}: unknown column(s) {', '.join(sorted(unknown))}")

    def draft(row: dict[str, str | None]) -> ClaimDraft:
        if None in row:
            raise ValueError("more cells than columns")
        rebuttal = Rebuttal(
            text=(row["rebuttal_text"] or "").strip(), issuer=(row["issuer"] or "").strip(),
            url=(row["rebuttal_url"] or "").strip(), published_on=_date(row["published_on"]),
        )  # fmt: skip
        return checked_draft(ClaimDraft(
            statement=row["statement"] or "", variants=_split(row.get("variants")),
            rating=rating_from_text(row["rating"] or ""), rebuttal=rebuttal,
            tags=_split(row.get("tags")), appearances=_split(row.get("appearances")),
        ))  # fmt: skip

    attempts = ((f"line {reader.line_num}", lambda row=row: draft(row)) for row in reader)
    return _all_or_nothing(path, attempts, "no claims in it")


def read_claim_file(path: Path, kind: str = "auto") -> list[ClaimDraft]:
    if not path.is_file():
        raise ClaimError(f"file not found: {path}")
    if kind == "auto":
        kind = "csv" if path.suffix.lower() == ".csv" else "claimreview"
    if kind == "csv":
        return read_csv_claims(path)
    if kind == "claimreview":
        return read_claimreview(path)
    raise ClaimError(f"unknown claim file kind {kind!r}: auto, csv or claimreview")
