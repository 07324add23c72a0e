"""Digest → HTML (Vietnamese; inline SVG charts) and → PDF (the same page printed by headless
Chromium, so the PDF looks like the HTML an official opens in the UI)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from alerting.digests.build import Digest
from alerting.digests.charts import bar_chart
from alerting.exceptions import AlertingError
from alerting.views import local_display
from alerting.web.i18n import translate

__all__ = ["DigestRenderError", "render_html", "render_pdf"]


class DigestRenderError(AlertingError):
    """The PDF could not be made (no Chromium, or it failed)."""


_ENV = Environment(
    loader=PackageLoader("alerting.digests", "templates"),
    autoescape=select_autoescape(default=True),
)


def render_html(digest: Digest, lang: str = "vi") -> str:
    def t(key: str, **values: object) -> str:
        return translate(lang, key, **values)

    labels = [(t(f"label.{k}"), v) for k, v in digest.by_label.most_common()]
    platforms = list(digest.by_platform.most_common())
    days = [(day[8:10] + "/" + day[5:7], n) for day, n in sorted(digest.by_day.items())]
    claims = [(_short(r.statement), r.reappeared) for r in digest.refuted[:10]]
    return _ENV.get_template("digest.html").render(
        d=digest,
        t=t,
        lang=lang,
        local=local_display,
        local_day=lambda moment: local_display(moment, with_time=False),
        chart_labels=Markup(bar_chart(labels, title=t("digest.by_label"))),  # noqa: S704
        chart_platforms=Markup(bar_chart(platforms, title=t("digest.by_platform"))),  # noqa: S704
        chart_days=Markup(bar_chart(days, title=t("digest.by_day"))),  # noqa: S704
        chart_claims=Markup(bar_chart(claims, title=t("digest.claims_chart"))),  # noqa: S704
    )


def _short(text: str, limit: int = 22) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _chromium() -> str | None:
    return (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )


def render_pdf(html: str, out: Path, timeout_s: float = 60.0) -> Path:
    """Print `html` to `out` with headless Chromium (Debian's `chromium` package)."""
    browser = _chromium()
    if browser is None:
        raise DigestRenderError("PDF digests need Chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="canhbao-digest-") as tmp:
        page = Path(tmp) / "digest.html"
        page.write_text(html, encoding="utf-8")
        command = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--user-data-dir={tmp}/profile",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=timeout_s)  # noqa: S603
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise DigestRenderError(f"Chromium could not print the digest: {exc}") from exc
    if not out.exists() or out.stat().st_size == 0:
        raise DigestRenderError("Chromium printed nothing")
    return out
