"""A synthetic Vietnamese news site (feed, news sitemap, robots.txt, article pages) served by a
`FixtureServer`: realistic page weight and markup, varied text, publication times in local
time. Used by the collectors' integration tests and by `canhbao bench collect`."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

from ingest.dates import LOCAL_TZ
from ingest.fixture_server import FixtureServer, Reply

__all__ = ["article_html", "hub_html", "publish_site", "rss_xml", "sitemap_xml"]

_SUBJECTS = [
    "UBND quận Bình Thạnh", "Sở Y tế TP HCM", "Công ty cấp nước Gia Định", "Trường THPT Lê Quý Đôn",
    "Ban quản lý chợ Bến Thành", "Điện lực Thủ Đức", "Sở Giao thông vận tải", "Hội Chữ thập đỏ",
]  # fmt: skip
_EVENTS = [
    "thông báo lịch cắt điện để bảo trì lưới điện trong hai ngày cuối tuần",
    "tổ chức tiêm vắc xin miễn phí cho trẻ em dưới năm tuổi tại trạm y tế phường",
    "khuyến cáo người dân kiểm tra hệ thống thoát nước trước mùa mưa bão",
    "khánh thành cây cầu mới nối hai bờ kênh, rút ngắn thời gian đi lại",
    "mở đường dây nóng tiếp nhận phản ánh về an toàn thực phẩm dịp cuối năm",
    "điều chỉnh phân luồng giao thông quanh công trình nhà ga metro",
]  # fmt: skip
_DETAILS = [
    "Theo kế hoạch, việc triển khai sẽ hoàn tất trước ngày {d}/{m}.",
    "Đại diện đơn vị cho biết đã có khoảng {n} hộ dân được thông báo trực tiếp.",
    "Người dân có thể liên hệ số điện thoại đường dây nóng để được hướng dẫn thêm.",
    "Trước đó, nhiều ý kiến phản ánh tình trạng ùn tắc kéo dài vào giờ cao điểm.",
    "Kinh phí thực hiện dự án khoảng {n} tỷ đồng từ ngân sách thành phố.",
    "Lực lượng chức năng được bố trí tại các điểm giao cắt để hỗ trợ người đi đường.",
    "Đơn vị cũng khuyến cáo người dân chủ động theo dõi thông tin trên cổng thông tin điện tử.",
    "Ông Nguyễn Văn {name}, người dân sống gần khu vực, cho biết rất ủng hộ chủ trương này.",
]  # fmt: skip
_NAMES = ["An", "Bình", "Cường", "Dũng", "Hải", "Khoa", "Long", "Minh", "Phúc", "Quang"]
# Words to vary the body with: articles on one site share templates, and the pipeline's
# near-duplicate detection would (rightly) fold near-identical ones into one story.
_WORDS = (
    "người dân", "khu phố", "chính quyền", "địa phương", "cơ quan chức năng", "dự án",
    "công trình", "tuyến đường", "nhà máy", "bệnh viện", "trường học", "chợ đầu mối", "giá cả",
    "thị trường", "mùa mưa", "triều cường", "ngập nước", "giao thông", "xe buýt", "tàu điện",
    "cầu vượt", "kênh rạch", "cây xanh", "vỉa hè", "an toàn thực phẩm", "điện nước",
    "học sinh", "giáo viên", "bác sĩ", "công nhân", "doanh nghiệp", "hộ kinh doanh",
    "nông sản", "thủy sản", "du lịch", "lễ hội", "kế hoạch", "kinh phí", "ngân sách",
    "tiến độ", "thi công", "kiểm tra", "xử lý vi phạm", "hỗ trợ", "tiếp nhận", "phản ánh",
    "tuần tới", "tháng này", "năm nay", "sáng sớm", "chiều tối", "cuối tuần", "đầu năm",
    "cao điểm", "thường xuyên",
)  # fmt: skip


def _paragraph(rng: random.Random, i: int) -> str:
    template = rng.choice(_DETAILS).format(
        d=rng.randint(1, 28), m=rng.randint(1, 12), n=rng.randint(10, 900) + i,
        name=rng.choice(_NAMES),
    )  # fmt: skip
    free = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(25, 40)))
    return f"{template} {free.capitalize()}."


def article_html(i: int, published: datetime, seed: int = 7) -> tuple[str, str]:
    """(title, page) for article `i`: header, navigation, sapo, 8 paragraphs, related links."""
    rng = random.Random(seed * 100_003 + i)
    title = f"{rng.choice(_SUBJECTS)} {rng.choice(_EVENTS)} (bài {i})"
    local = published.astimezone(LOCAL_TZ)
    weekday = ["Thứ hai", "Thứ ba", "Thứ tư", "Thứ năm", "Thứ sáu", "Thứ bảy", "Chủ nhật"]
    stamp = f"{weekday[local.weekday()]}, {local:%d/%m/%Y}, {local:%H:%M} (GMT+7)"
    nav = "".join(f'<li><a href="/chuyen-muc/{k}">Chuyên mục {k}</a></li>' for k in range(30))
    related = "".join(f'<li><a href="/bai-viet/{(i + k) % 997}.html">Tin liên quan {k}</a></li>'
                      for k in range(1, 8))  # fmt: skip
    body = "".join(f"<p>{escape(_paragraph(rng, i * 10 + k))}</p>" for k in range(8))
    sapo = f"{rng.choice(_SUBJECTS)} vừa {rng.choice(_EVENTS)}, theo thông tin ngày {local:%d/%m}."
    page = f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{escape(title)} - Báo Mẫu</title>
<meta name="description" content="{escape(sapo)}">
<meta name="author" content="Phóng viên {rng.choice(_NAMES)}">
<link rel="canonical" href="/bai-viet/{i}.html"></head>
<body><header><a href="/">Báo Mẫu</a><nav><ul>{nav}</ul></nav></header>
<main><article><h1 class="title-detail">{escape(title)}</h1>
<span class="date">{stamp}</span>
<p class="description">{escape(sapo)}</p>
{body}
<p class="author"><strong>Phóng viên {rng.choice(_NAMES)}</strong></p></article>
<aside><h3>Tin liên quan</h3><ul>{related}</ul></aside></main>
<footer>© Báo Mẫu. Giấy phép số 123/GP-BTTTT.</footer></body></html>"""
    return title, page


def hub_html(section: str, numbers: range, *, linked_sapo: bool = True, seed: int = 7) -> str:
    """A section page ("Thời sự"): a list of teasers, each a linked headline and a sapo —
    linked too on some sites (`linked_sapo`), plain text on others. Hundreds of characters of
    Vietnamese text, and no article."""
    rng = random.Random(seed)
    teasers = []
    for i in numbers:
        href = f"/bai-viet/{i}.html"
        title = f"{rng.choice(_SUBJECTS)} {rng.choice(_EVENTS)} (bài {i})"
        sapo = f"{rng.choice(_SUBJECTS)} vừa {rng.choice(_EVENTS)}. {_paragraph(rng, i)[:160]}"
        sapo_html = f'<a href="{href}">{escape(sapo)}</a>' if linked_sapo else escape(sapo)
        teasers.append(
            f'<article class="item-news"><h3 class="title-news"><a href="{href}">'
            f'{escape(title)}</a></h3><p class="description">{sapo_html}</p>'
            f'<span class="time-public">{rng.randint(1, 59)} phút trước</span></article>'
        )
    nav = "".join(f'<li><a href="/chuyen-muc/{k}">Chuyên mục {k}</a></li>' for k in range(30))
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{escape(section)} - Báo Mẫu</title>
<meta property="og:site_name" content="Báo Mẫu"></head>
<body><header><a href="/">Báo Mẫu</a><span class="date">Thứ hai, 30/11/2026</span>
<nav><ul>{nav}</ul></nav></header>
<main><h1 class="title-folder">{escape(section)}</h1><div class="list-news">{"".join(teasers)}</div>
<div class="pagination"><a href="?p=2">Trang sau</a></div></main>
<footer>© Báo Mẫu. Giấy phép số 123/GP-BTTTT.</footer></body></html>"""


def rss_xml(base_url: str, items: list[tuple[int, str, datetime]]) -> str:
    entries = "".join(
        f"<item><title>{escape(title)}</title><link>{base_url}/bai-viet/{i}.html?utm_source=rss"
        f"</link><guid>{base_url}/bai-viet/{i}.html</guid>"
        f"<pubDate>{format_datetime(published.astimezone(LOCAL_TZ))}</pubDate>"
        f"<description><![CDATA[<p>Tóm tắt bài {i}</p>]]></description></item>"
        for i, title, published in items
    )
    channel = f"<title>Báo Mẫu - Tin mới</title><link>{base_url}/</link>{entries}"
    head = '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0">'
    return f"{head}<channel>{channel}</channel></rss>"


def sitemap_xml(base_url: str, items: list[tuple[int, str, datetime]]) -> str:
    urls = "".join(
        f"<url><loc>{base_url}/bai-viet/{i}.html</loc><news:news><news:publication>"
        "<news:name>Báo Mẫu</news:name><news:language>vi</news:language></news:publication>"
        f"<news:publication_date>{published.astimezone(LOCAL_TZ).isoformat()}"
        f"</news:publication_date><news:title>{escape(title)}</news:title></news:news></url>"
        for i, title, published in items
    )
    namespaces = (
        'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {namespaces}>{urls}</urlset>'


def publish_site(
    server: FixtureServer,
    articles: range,
    *,
    prefix: str = "",
    now: datetime | None = None,
    delay_s: float = 0.0,
    robots: str = "User-agent: *\nDisallow: /private/\n",
) -> list[tuple[int, str, datetime]]:
    """Serve `articles` under `prefix`: `{prefix}/rss.xml`, `{prefix}/sitemap-news.xml`, and one
    page per article; `/robots.txt` too. Returns (number, title, published) per article."""
    now = now or datetime.now(UTC)
    items = []
    for offset, i in enumerate(articles):
        published = now - timedelta(minutes=5 * offset + 1)
        title, page = article_html(i, published)
        server.route(f"{prefix}/bai-viet/{i}.html", Reply.text(page, delay_s=delay_s))
        items.append((i, title, published))
    base = server.base_url + prefix
    server.route(f"{prefix}/rss.xml", Reply.text(rss_xml(base, items),
                                                 "application/rss+xml; charset=utf-8"))  # fmt: skip
    server.route(f"{prefix}/sitemap-news.xml", Reply.text(sitemap_xml(base, items),
                                                          "application/xml"))  # fmt: skip
    server.route("/robots.txt", Reply.text(robots, "text/plain"))
    return items
