"""Digests for officials: counts, trends and the top confirmed stories of a day or week, as
HTML and PDF, viewable in the review UI and sent by email (`canhbao digest`)."""

from alerting.digests.build import Digest, Period, Story, build_digest, period_bounds
from alerting.digests.charts import bar_chart
from alerting.digests.gather import digest_from_store
from alerting.digests.render import DigestRenderError, render_html, render_pdf
from alerting.digests.send import send_digest

__all__ = [
    "Digest",
    "DigestRenderError",
    "Period",
    "Story",
    "bar_chart",
    "build_digest",
    "digest_from_store",
    "period_bounds",
    "render_html",
    "render_pdf",
    "send_digest",
]
