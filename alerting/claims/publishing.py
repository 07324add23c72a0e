"""What the public sees of the claim library: published claims with their official rebuttals,
as schema.org `ClaimReview` JSON-LD (what search engines and platforms read) and as an Atom
feed. Only the claim, the rating, the rebuttal and where the claim appeared (public URLs):
never who in our team wrote or published it, never an author of a post."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from schemas import Claim, ClaimRating, ClaimStatus

__all__ = ["RATING_WORDS", "atom_feed", "claimreview_jsonld"]

# The rating as a reader should see it, in Vietnamese (schema.org's alternateName), and its
# place on a 1 (false) … 4 scale for machines.
RATING_WORDS: dict[ClaimRating, tuple[str, int]] = {
    ClaimRating.FALSE: ("Sai sự thật", 1),
    ClaimRating.MISLEADING: ("Gây hiểu lầm", 2),
    ClaimRating.MISSING_CONTEXT: ("Thiếu bối cảnh", 3),
    ClaimRating.UNPROVEN: ("Chưa được kiểm chứng", 4),
}
PUBLISHER = "Cảnh báo — tin sai đã được bác bỏ"


def _public(claim: Claim) -> None:
    if claim.status is not ClaimStatus.PUBLISHED or claim.rebuttal is None:
        raise ValueError(f"claim {claim.claim_id} is not published")


def claimreview_jsonld(claim: Claim, page_url: str) -> dict[str, Any]:
    """One published claim as a `ClaimReview` (https://schema.org/ClaimReview)."""
    _public(claim)
    assert claim.rebuttal is not None
    words, value = RATING_WORDS[claim.rating]
    item: dict[str, Any] = {"@type": "Claim"}
    if claim.appearances:
        item["appearance"] = [{"@type": "CreativeWork", "url": u} for u in claim.appearances]
    return {
        "@context": "https://schema.org",
        "@type": "ClaimReview",
        "url": page_url,
        "claimReviewed": claim.statement,
        "datePublished": claim.rebuttal.published_on.isoformat(),
        "inLanguage": "vi",
        "author": {"@type": "Organization", "name": claim.rebuttal.issuer},
        "reviewRating": {
            "@type": "Rating",
            "ratingValue": value,
            "bestRating": 4,
            "worstRating": 1,
            "alternateName": words,
        },
        "reviewBody": claim.rebuttal.text,
        "isBasedOn": claim.rebuttal.url,
        "itemReviewed": item,
        "keywords": ", ".join(claim.tags),
    }


def atom_feed(claims: Sequence[Claim], base_url: str, now: datetime) -> str:
    """RFC 4287 Atom: one entry per published claim, newest change first."""
    base = base_url.rstrip("/")
    entries = []
    for claim in sorted(claims, key=lambda c: c.updated_at, reverse=True):
        _public(claim)
        assert claim.rebuttal is not None
        words, _ = RATING_WORDS[claim.rating]
        link = f"{base}/corrections/{claim.claim_id}"
        summary = f"{words}. {claim.rebuttal.issuer}: {claim.rebuttal.text}"
        entries.append(
            "  <entry>\n"
            f"    <id>{escape(link)}</id>\n"
            f"    <title>{escape(claim.statement)}</title>\n"
            f'    <link rel="alternate" href={quoteattr(link)}/>\n'
            f'    <link rel="related" href={quoteattr(claim.rebuttal.url)}/>\n'
            f"    <updated>{claim.updated_at.isoformat()}</updated>\n"
            f"    <published>{claim.rebuttal.published_on.isoformat()}T00:00:00+07:00</published>\n"
            f"    <author><name>{escape(claim.rebuttal.issuer)}</name></author>\n"
            f'    <summary xml:lang="vi">{escape(summary)}</summary>\n'
            "  </entry>\n"
        )
    updated = max((c.updated_at for c in claims), default=now)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="vi">\n'
        f"  <id>{escape(base)}/corrections</id>\n"
        f"  <title>{escape(PUBLISHER)}</title>\n"
        f'  <link rel="self" href={quoteattr(base + "/corrections.atom")}/>\n'
        f'  <link rel="alternate" href={quoteattr(base + "/corrections")}/>\n'
        f"  <updated>{updated.isoformat()}</updated>\n" + "".join(entries) + "</feed>\n"
    )
