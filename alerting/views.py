"""What the review API shows: alerts with their evidence, never an author.

No author reference is stored or served (the pipeline drops it at its first stage), so the
review tools cannot be turned into a per-person view.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerting.store import AlertDetail
from schemas import Alert, AuditEvent, NormalizedPost

__all__ = [
    "LOCAL_TZ",
    "alert_view",
    "api_docs_page",
    "audit_view",
    "detail_view",
    "local_display",
    "local_time",
]

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def local_time(moment: datetime | None) -> str | None:
    return moment.astimezone(LOCAL_TZ).isoformat(timespec="seconds") if moment else None


def local_display(moment: datetime | None, with_time: bool = True) -> str:
    """As people read it here: 29/11/2026 21:00, local time; "—" when there is none."""
    if moment is None:
        return "—"
    return moment.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")


def alert_view(alert: Alert) -> dict[str, Any]:
    view = alert.model_dump(mode="json")
    view["created_at_local"] = local_time(alert.created_at)
    return view


def _post_view(post: NormalizedPost) -> dict[str, Any]:
    raw = post.raw
    return {
        "post_id": post.post_id,
        "platform": raw.platform.value,
        "kind": raw.kind.value,
        "source_id": raw.source_id,
        "url": raw.url,
        "title": post.title,
        "text": post.text,
        "language": post.language,
        "published_at": raw.published_at.isoformat() if raw.published_at else None,
        "published_at_local": local_time(raw.published_at),
        "collected_at": raw.collected_at.isoformat(),
        "engagement": raw.engagement.model_dump(),
        "cluster_id": post.cluster_id,
        "duplicate_kind": post.duplicate_kind.value if post.duplicate_kind else None,
    }


def detail_view(detail: AlertDetail, audit: list[AuditEvent]) -> dict[str, Any]:
    classification = detail.classification
    return {
        "alert": alert_view(detail.alert),
        "post": _post_view(detail.post),
        "classification": classification.model_dump(mode="json") if classification else None,
        "duplicates": [_post_view(d) for d in detail.duplicates],
        "decisions": [d.model_dump(mode="json") for d in detail.decisions],
        "audit": [audit_view(e) for e in audit],
    }


def audit_view(event: AuditEvent) -> dict[str, Any]:
    view = event.model_dump(mode="json")
    view["at_local"] = local_time(event.at)
    return view


def _schema_name(schema: dict[str, Any]) -> str:
    """`DecisionRequest`, `string`, `integer | null`: what a schema is, in a word or two."""
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_schema_name(s) for s in schema["anyOf"] if isinstance(s, dict))
    if schema.get("type") == "array":
        return f"[{_schema_name(schema.get('items', {}))}]"
    return str(schema.get("type", "any"))


def api_docs_page(spec: dict[str, Any]) -> str:
    """The API's reference as one static page built from its OpenAPI document: no scripts, no
    outside assets (FastAPI's Swagger page loads both from a CDN)."""
    esc = html.escape
    rows = []
    for path, operations in sorted(spec.get("paths", {}).items()):
        for method, op in operations.items():
            params = ", ".join(
                f"{esc(p['name'])}{'' if p.get('required') else '?'} ({esc(p.get('in', ''))})"
                for p in op.get("parameters", [])
            )
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            rows.append(
                f"<tr><td><code>{esc(method.upper())}</code></td><td><code>{esc(path)}</code>"
                f"</td><td>{esc(op.get('summary', ''))}</td><td>{params or '—'}</td>"
                f"<td>{esc(_schema_name(body['schema'])) if body else '—'}</td></tr>"
            )
    schemas = "".join(
        f"<h3 id='{esc(name)}'>{esc(name)}</h3><ul>"
        + "".join(
            f"<li><code>{esc(field)}</code>: {esc(_schema_name(prop))}</li>"
            for field, prop in body.get("properties", {}).items()
        )
        + "</ul>"
        for name, body in sorted(spec.get("components", {}).get("schemas", {}).items())
    )
    info = spec.get("info", {})
    return (
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
        f"<title>{esc(info.get('title', 'API'))}</title>"
        "<link rel='stylesheet' href='/static/style.css'></head><body><main>"
        f"<h1>{esc(info.get('title', 'API'))} v{esc(str(info.get('version', '')))}</h1>"
        "<p>Xác thực: <code>Authorization: Bearer &lt;token&gt;</code> — mã cấp bằng"
        " <code>canhbao users token issue TÊN</code>; quyền theo vai trò của tài khoản."
        " Bản mô tả máy đọc: <a href='/openapi.json'>/openapi.json</a>.</p>"
        "<table><thead><tr><th>Phương thức</th><th>Đường dẫn</th><th>Mô tả</th>"
        f"<th>Tham số</th><th>Nội dung</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<h2>Lược đồ</h2>{schemas}</main></body></html>"
    )
