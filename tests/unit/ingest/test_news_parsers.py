"""Feeds, sitemaps and article pages → entries and text; broken ones → PayloadError."""

from __future__ import annotations

import gzip
import unicodedata
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.exceptions import PayloadError
from ingest.fixture_site import article_html, hub_html, rss_xml, sitemap_xml
from ingest.news.article import (
    MAX_ARTICLE_CHARS,
    NotAnArticle,
    clean_byline,
    extract_article,
    find_published_at,
)
from ingest.news.feeds import parse_feed
from ingest.news.sitemaps import parse_sitemap
from tests.unit.ingest.helpers import cp1258

WHEN = datetime(2026, 11, 29, 7, 30, tzinfo=UTC)
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Tin</title>
<entry><title>Giá xăng &lt;tăng&gt;</title><link href="https://x.vn/a.html?utm_medium=rss#c"/>
<id>urn:1</id><updated>2026-11-29T14:30:00+07:00</updated>
<summary type="html">&lt;p&gt;Xăng RON 95 &lt;b&gt;tăng&lt;/b&gt; 500 đồng&lt;/p&gt;</summary>
<author><name>Lan</name></author></entry>
<entry><title>Không có link</title><id>urn:2</id></entry></feed>"""


def test_rss_entries_have_canonical_links_local_times_and_plain_summaries() -> None:
    entries = parse_feed(rss_xml("https://bao.vn", [(1, "Tiêu đề", WHEN)]).encode()).entries
    [entry] = entries
    assert entry.url == "https://bao.vn/bai-viet/1.html"  # utm_source dropped
    assert entry.published_at == WHEN
    assert entry.summary == "Tóm tắt bài 1"


def test_atom_is_read_and_entries_without_a_link_are_set_apart() -> None:
    feed = parse_feed(ATOM.encode())
    assert feed.unlinked == ["Không có link"]  # for the collector to record, not dropped
    [entry] = feed.entries
    assert entry.url == "https://x.vn/a.html"
    assert entry.title == "Giá xăng <tăng>"
    assert entry.summary == "Xăng RON 95 tăng 500 đồng"
    assert entry.published_at == WHEN
    assert entry.author == "Lan"


_VN_FEED = """<?xml version="1.0"{decl}?>
<rss version="2.0"><channel><title>Báo Đà Nẵng</title>
<item><title>Người dân Đà Nẵng đón bão số 5</title><link>https://bao.vn/a.html</link>
<description>Chính quyền sơ tán hộ dân ở quận Sơn Trà</description></item>
</channel></rss>"""


def test_an_undeclared_windows_1258_feed_is_decoded_not_garbled() -> None:
    body = cp1258(_VN_FEED.format(decl=""))
    [entry] = parse_feed(body, {"content-type": "application/rss+xml"}).entries
    # Windows-1258 spells most tone marks as combining characters: compare in NFC.
    assert unicodedata.normalize("NFC", entry.title or "") == "Người dân Đà Nẵng đón bão số 5"


def test_a_declared_single_byte_charset_loses_to_valid_utf8() -> None:
    body = _VN_FEED.format(decl=' encoding="windows-1252"').encode("utf-8")
    [entry] = parse_feed(body).entries
    assert entry.title == "Người dân Đà Nẵng đón bão số 5"


def test_a_declared_charset_that_fits_is_still_used() -> None:
    body = _VN_FEED.format(decl=' encoding="windows-1258"')
    [entry] = parse_feed(cp1258(body)).entries
    assert unicodedata.normalize("NFC", entry.summary or "") == (
        "Chính quyền sơ tán hộ dân ở quận Sơn Trà"
    )


def test_entities_escaped_twice_inside_cdata_are_decoded() -> None:
    # Inside CDATA XML decodes nothing: "&amp;apos;" is "&apos;" after the HTML pass.
    title = "<![CDATA[Công an cảnh báo &amp;apos;lừa đảo&amp;apos; qua mạng]]>"
    body = _VN_FEED.format(decl="").replace("<title>Người dân Đà Nẵng đón bão số 5</title>",
                                           f"<title>{title}</title>")  # fmt: skip
    [entry] = parse_feed(body.encode()).entries
    assert entry.title == "Công an cảnh báo 'lừa đảo' qua mạng"


def test_a_sloppy_feed_is_read_for_what_it_has() -> None:
    sloppy = rss_xml("https://bao.vn", [(1, "A & B", WHEN)]).replace("&amp;", "&")
    assert len(parse_feed(sloppy.encode()).entries) == 1


@pytest.mark.parametrize(
    "body", [b"", b"<html><body>502 Bad Gateway</body></html>", b"\x00\xff" * 50]
)
def test_a_broken_feed_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_feed(body)


def test_truncated_feed_keeps_complete_entries_and_says_it_is_truncated() -> None:
    full = rss_xml("https://bao.vn", [(i, f"Bài {i}", WHEN) for i in range(5)]).encode()
    cut = full[: full.index(b"</item>", full.index(b"bai-viet/2.html")) + len(b"</item>") + 20]
    feed = parse_feed(cut)
    assert feed.truncated
    assert 1 <= len(feed.entries) <= 3
    whole = parse_feed(full + b"\n  ")
    assert not whole.truncated
    assert len(whole.entries) == 5
    atom = ATOM.encode()
    assert not parse_feed(atom).truncated
    assert parse_feed(atom[: atom.rindex(b"</feed>")]).truncated


def test_news_sitemap_index_and_gzip() -> None:
    body = sitemap_xml("https://bao.vn", [(3, "Tin ba", WHEN)]).encode()
    [url] = parse_sitemap(body).urls
    assert (url.url, url.title, url.published_at) == (
        "https://bao.vn/bai-viet/3.html",
        "Tin ba",
        WHEN,
    )
    assert parse_sitemap(gzip.compress(body)).urls == [url]
    index = (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap>'
        "<loc>https://bao.vn/s1.xml</loc><lastmod>2026-11-29</lastmod></sitemap></sitemapindex>"
    )
    parsed = parse_sitemap(index.encode())
    assert parsed.children[0][0] == "https://bao.vn/s1.xml"
    assert not parsed.urls


@pytest.mark.parametrize(
    "body",
    [
        b"<urlset><url><loc>https://x.vn/a",  # truncated
        b"<html><body>not a sitemap</body></html>",
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b"<urlset>&lol2;</urlset>",  # entity expansion is refused, not evaluated
        b"\x1f\x8b\x08\x00broken-gzip",
    ],
)
def test_broken_or_hostile_sitemaps_are_payload_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_sitemap(body)


def test_article_extraction_finds_title_body_byline_and_local_time() -> None:
    title, page = article_html(7, WHEN)
    article = extract_article(page, "https://bao.vn/bai-viet/7.html")
    assert article.title == title
    assert article.published_at == WHEN.replace(second=0)
    assert article.author
    assert article.author.startswith("Phóng viên")
    assert "Chuyên mục" not in article.text
    assert "Tin liên quan" not in article.text
    assert title not in article.text.split("\n")[0]  # the headline is not repeated as text
    assert len(article.text) > 500


def test_page_without_article_text_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="no article text"):
        extract_article(
            "<html><body><nav><a href='/'>Trang chủ</a></nav></body></html>", "https://x.vn/"
        )


def test_very_long_articles_are_cut_at_a_paragraph() -> None:
    paragraph = "Người dân phản ánh tình trạng ngập nước kéo dài ở nhiều tuyến đường. " * 8
    body = "".join(f"<p>{paragraph} đoạn {i}</p>" for i in range(200))
    article = extract_article(
        f"<html><body><article><h1>Tin</h1>{body}</article></body></html>", "https://x.vn/a"
    )
    assert MAX_ARTICLE_CHARS // 2 < len(article.text) <= MAX_ARTICLE_CHARS
    assert article.text.rstrip().split()[-2] == "đoạn"  # ends with a whole paragraph


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<meta property="article:published_time" content="2026-11-29T14:30:00+07:00">', WHEN),
        (
            '<script type="application/ld+json">{"datePublished": "2026-11-29T07:30:00Z"}</script>',
            WHEN,
        ),
        ('<time itemprop="datePublished" datetime="2026-11-29T14:30:00+07:00">nay</time>', WHEN),
        ('<article><h1>Tin</h1><time datetime="2026-11-29T14:30:00+07:00">nay</time>', WHEN),
        ('<h1>Tin</h1><span class="date">Chủ nhật, 29/11/2026, 14:30 (GMT+7)</span>', WHEN),
        ("<p>không có ngày</p>", None),
        # a date in a sidebar or the site's header is not the article's
        ('<aside><span class="time">Chủ nhật, 29/11/2026, 14:30</span></aside><p>Tin</p>', None),
        ('<aside><time datetime="2026-11-29T14:30:00+07:00">nay</time></aside>', None),
    ],
)
def test_published_time_sources(html: str, expected: datetime | None) -> None:
    assert find_published_at(html) == expected


def test_the_publication_time_is_the_articles_not_a_sidebars_or_the_site_headers() -> None:
    """The site's header prints today; a "most read" box before the article prints other
    days; the article's own header line is the one."""
    _, page = article_html(7, WHEN)
    page = page.replace('<meta name="author"', '<meta name="x-author"')
    sidebar = (
        '<div class="top-bar"><span class="date">Thứ hai, 30/11/2026</span></div>'
        '<div class="most-read"><span class="time">27/11/2026 09:15</span>'
        '<span class="time">26/11/2026 18:00</span></div>'
    )
    page = page.replace("<main>", f"<main>{sidebar}")
    assert extract_article(page, "https://bao.vn/bai-viet/7.html").published_at == WHEN
    undated = page.replace('<span class="date">', '<span class="kicker">')
    assert extract_article(undated, "https://bao.vn/bai-viet/7.html").published_at is None


@pytest.mark.parametrize("linked_sapo", [True, False])
def test_a_section_page_is_not_an_article_however_long_its_text(linked_sapo: bool) -> None:
    page = hub_html("Thời sự", range(1, 13), linked_sapo=linked_sapo)
    with pytest.raises(NotAnArticle, match="section or hub page"):
        extract_article(page, "https://bao.vn/thoi-su")


def test_a_page_whose_metadata_says_listing_is_not_an_article() -> None:
    page = hub_html("Pháp luật", range(1, 4)).replace(
        "<head>", '<head><meta property="og:type" content="website">'
    )
    with pytest.raises(NotAnArticle):
        extract_article(page, "https://bao.vn/phap-luat")


def test_an_article_with_related_teasers_inside_it_is_still_an_article() -> None:
    _, page = article_html(7, WHEN)
    teasers = hub_html("x", range(20, 26)).split('<div class="list-news">')[1].split("</div>")[0]
    related = f'<div class="box-related"><h2>Tin liên quan</h2>{teasers}</div>'
    page = page.replace("</article>", f"{related}</article>")
    article = extract_article(page, "https://bao.vn/bai-viet/7.html")
    assert len(article.text) > 500
    declared = page.replace("<head>", '<head><meta property="og:type" content="article">')
    assert extract_article(declared, "https://bao.vn/bai-viet/7.html").text


def _byline_page(meta_author: str, last_lines: str) -> str:
    _, page = article_html(9, WHEN)
    page = page.replace('content="Phóng viên', 'content="x').replace(
        '<meta name="author" content="x', f'<meta name="author" content="{meta_author}" data-x="'
    )
    page = page.replace("<head>", '<head><meta property="og:site_name" content="Báo Dân trí">')
    start = page.index('<p class="author">')
    end = page.index("</article>")
    return page[:start] + last_lines + page[end:]


def test_the_byline_loses_the_site_name_and_leaves_the_body() -> None:
    page = _byline_page("Dân Trí; Tri Túc", "<p><strong>Tri Túc</strong></p>")
    article = extract_article(page, "https://dantri.com.vn/xa-hoi/bai-9.htm")
    assert article.author == "Tri Túc"
    assert not article.text.rstrip().endswith("Tri Túc")
    sourced = _byline_page("Minh Anh", "<p>Minh Anh</p><p><em>Theo TTXVN</em></p>")
    article = extract_article(sourced, "https://dantri.com.vn/xa-hoi/bai-9.htm")
    assert article.author == "Minh Anh"
    assert article.text.rstrip().endswith(".")  # the body's own last sentence
    sentence = "Theo kế hoạch, việc triển khai sẽ hoàn tất trước ngày 3/9."
    kept = _byline_page("Minh Anh", f"<p>{sentence}</p><p>Minh Anh</p>")
    article = extract_article(kept, "https://dantri.com.vn/xa-hoi/bai-9.htm")
    assert article.text.rstrip().endswith(sentence)  # a sentence opening "Theo" is body text


@pytest.mark.parametrize(
    ("raw", "sites", "expected"),
    [
        ("Dân Trí; Tri Túc", {"dantri"}, "Tri Túc"),
        ("Minh Anh - Báo Tuổi Trẻ", {"tuoitre"}, "Minh Anh"),
        ("VnExpress", {"vnexpress"}, None),
        ("Theo TTXVN", {"vnexpress"}, None),
        ("Hoàng Long, Thu Hà", {"thanhnien"}, "Hoàng Long, Thu Hà"),
        ("Tuổi Trẻ Online | Quang Định", {"tuoitre"}, "Quang Định"),
        (None, {"x"}, None),
    ],
)
def test_clean_byline(raw: str | None, sites: set[str], expected: str | None) -> None:
    assert clean_byline(raw, sites) == expected


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_extraction_never_raises_anything_but_payload_error(text: str) -> None:
    try:
        article = extract_article(
            f"<html><body><article><p>{text}</p></article></body></html>", "https://x.vn/a"
        )
    except PayloadError:
        return
    assert article.text.strip()
