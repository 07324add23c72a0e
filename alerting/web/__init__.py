"""The review web UI (server-rendered, Vietnamese first)."""

from alerting.web.app import SESSION_COOKIE, mount_review_ui
from alerting.web.highlight import Segment, segments
from alerting.web.i18n import LANGUAGES, translate

__all__ = ["LANGUAGES", "SESSION_COOKIE", "Segment", "mount_review_ui", "segments", "translate"]
