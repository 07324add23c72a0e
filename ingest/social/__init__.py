"""Social platforms, through their official APIs only: Facebook Graph (public Pages), YouTube
Data API v3, TikTok Research API. Zalo offers no API for public posts: use the intake."""

from ingest.social.facebook import collect_facebook_page
from ingest.social.tiktok import collect_tiktok_query
from ingest.social.youtube import collect_youtube_channel

__all__ = ["collect_facebook_page", "collect_tiktok_query", "collect_youtube_channel"]
