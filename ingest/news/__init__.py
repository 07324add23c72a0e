"""News sites: RSS/Atom feeds, news sitemaps, and article pages (trafilatura)."""

from ingest.news.article import Article, extract_article
from ingest.news.collect import collect_feed, collect_sitemap
from ingest.news.feeds import FeedEntry, parse_feed
from ingest.news.sitemaps import Sitemap, SitemapUrl, parse_sitemap

__all__ = [
    "Article",
    "FeedEntry",
    "Sitemap",
    "SitemapUrl",
    "collect_feed",
    "collect_sitemap",
    "extract_article",
    "parse_feed",
    "parse_sitemap",
]
