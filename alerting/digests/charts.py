"""Small inline SVG charts for digests: no JavaScript, no external files, print well to PDF."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["bar_chart"]


def bar_chart(
    items: Sequence[tuple[str, int]], *, width: int = 560, bar_height: int = 18, title: str = ""
) -> str:
    """Horizontal bars with their labels and values, as an SVG string (escaped)."""
    gap, label_w, value_w = 6, 150, 50
    height = max(1, len(items)) * (bar_height + gap) + (24 if title else 0)
    top = 24 if title else 0
    largest = max((v for _, v in items), default=0) or 1
    span = width - label_w - value_w
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img"'
        f' aria-label="{escape(title)}" font-family="sans-serif" font-size="12">'
    ]
    if title:
        parts.append(f'<text x="0" y="16" font-weight="bold">{escape(title)}</text>')
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_height + gap)
        length = round(span * value / largest)
        parts.append(f'<text x="0" y="{y + bar_height - 5}">{escape(label)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y}" width="{length}" height="{bar_height}" '
            'fill="#b3261e" rx="2"/>'
        )
        parts.append(f'<text x="{label_w + length + 6}" y="{y + bar_height - 5}">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)
