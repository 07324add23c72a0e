"""Synthetic but realistic Vietnamese posts for benchmarks: news, comments, hostile, misleading,
spam, foreign-language and repeated posts, in roughly the mix a city feed shows."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

__all__ = ["synthetic_posts"]

_PLACES = [
    "phường Bến Nghé", "quận 1", "quận Bình Thạnh", "TP Thủ Đức", "huyện Bình Chánh", "quận 7",
    "phường Hàng Bạc", "quận Hoàn Kiếm", "quận Cầu Giấy", "TP Đà Nẵng", "tỉnh Đồng Nai",
    "huyện Củ Chi", "quận Gò Vấp", "phường Thảo Điền", "TP Cần Thơ", "tỉnh Bình Dương",
]  # fmt: skip
_ACTORS = [
    "UBND", "Sở Y tế", "Công an", "Trung tâm Kiểm soát bệnh tật", "Sở Giao thông vận tải",
    "Ban quản lý chợ", "Trường THPT", "Công ty cấp nước", "Điện lực", "Hội Chữ thập đỏ",
]  # fmt: skip
_NEWS = [
    "{actor} {place} thông báo lịch cắt điện từ {h} giờ đến {h2} giờ ngày {d}/{m} để bảo trì.",
    "{actor} {place} tổ chức tiêm vắc xin miễn phí cho trẻ em vào sáng thứ bảy tuần này.",
    "Mưa lớn chiều {d}/{m} khiến nhiều tuyến đường ở {place} ngập sâu, giao thông ùn tắc.",
    "{actor} {place} khuyến cáo người dân kiểm tra hệ thống điện trước mùa mưa bão.",
    "Giá xăng dầu điều chỉnh từ {h} giờ hôm nay, xăng RON 95 tăng {n} đồng mỗi lít.",
    "{actor} {place} khánh thành cây cầu mới, rút ngắn thời gian đi lại cho {n} hộ dân.",
    "Hội chợ nông sản {place} thu hút hơn {n} lượt khách trong ngày khai mạc.",
    "{actor} {place} ra mắt đường dây nóng tiếp nhận phản ánh về an toàn thực phẩm.",
]  # fmt: skip
_COMMENTS = [
    "Cảm ơn ad đã chia sẻ thông tin hữu ích, mình sẽ báo cho cả nhà biết.",
    "Khu mình ở {place} cũng bị y vậy, mong chính quyền sớm xử lý.",
    "Bài viết hay quá, ủng hộ page nhiều nha mọi người.",
    "Không biết lịch này có áp dụng cho {place} không ạ?",
    "Giá cả dạo này tăng nhiều quá, đi chợ {n} nghìn mà không đủ.",
    "Sáng nay đi làm kẹt xe ở {place} gần một tiếng, mệt thật sự.",
    "Mọi người nhớ mang áo mưa nha, chiều nay trời chuyển mưa rồi.",
    "ko bít có ai đi hội chợ {place} chưa, có vui ko mn?",
]  # fmt: skip
_HOSTILE = [
    "Thằng admin này ngu như chó, đăng bài sai hoài.",
    "Đm bọn lừa đảo ở {place}, cả lũ đáng bị đánh chết.",
    "Óc chó thật sự, nói chuyện với loại mày phí thời gian.",
    "Cái loại mất dạy như mày cút khỏi {place} đi.",
    "vl thằng này câm mồm đi, ngu mà còn bày đặt nói.",
]  # fmt: skip
_MISINFO = [
    "KHẨN CẤP: nước máy ở {place} bị nhiễm độc, không uống trong {n} ngày tới!!! Chia sẻ ngay",
    "Uống nước chanh nóng với tỏi mỗi sáng chữa khỏi hoàn toàn ung thư, bác sĩ giấu kín điều này.",
    "Tin nội bộ: ngày mai {place} phong tỏa toàn bộ, mọi người đi mua đồ tích trữ gấp.",
    "Cảnh báo: tiêm vắc xin ở {place} khiến {n} trẻ tử vong, báo chí không dám đưa tin.",
]  # fmt: skip
_SPAM = [
    "Inbox ngay để nhận {n}k tiền thưởng, cá cược bóng đá uy tín nhất, rút tiền trong 5 phút.",
    "Vay tiền online không cần thế chấp, giải ngân {n} triệu trong ngày, liên hệ zalo 09xx.",
    "Thanh lý lô hàng mỹ phẩm giảm giá {n}%, số lượng có hạn, ib shop ngay!!!",
]  # fmt: skip
_FOREIGN = [
    "Breaking: heavy rain expected in the city this weekend, stay safe everyone.",
    "今天天气很好，我们去公园散步吧。",
    "Great article, thanks for sharing!",
]
# Sentences any post may carry, so that two posts of one kind share little beyond their topic.
_FILLERS = [
    "Mọi người chú ý nha.", "Mình vừa đọc được tin này sáng nay.", "Ai ở gần đó xác nhận giúp với.",
    "Thông tin được cập nhật lúc {h} giờ.", "Chia sẻ để nhiều người cùng biết.",
    "Nhà {name} ở {place} cũng gặp chuyện tương tự.", "Hỏi thăm thêm anh {name} thì biết vậy.",
    "Tính ra mất gần {n} nghìn đồng.", "Tuần trước đã có {n} người phản ánh.",
    "Theo phản ánh của bạn đọc ở {place}.", "Tình hình có thể thay đổi trong {n} phút tới.",
    "Cả nhà mình đều quan tâm chuyện này.", "Nguồn: người dân địa phương.",
    "Hôm nay trời nắng nóng.",
    "Xin cảm ơn.", "Đọc xong thấy lo quá.", "Ai cần thêm thông tin thì nhắn mình.",
    "Bạn nghĩ sao về việc này?", "Mong mọi người bình tĩnh.", "Cập nhật thêm ở phần bình luận.",
]  # fmt: skip
_NAMES = ["Lan", "Hùng", "Minh", "Thảo", "Tuấn", "Hoa", "Nam", "Vy", "Khoa", "Trang", "Dũng", "Mai"]
_MIX = (
    (_NEWS, 0.40, "news"),
    (_COMMENTS, 0.30, "facebook"),
    (_HOSTILE, 0.10, "facebook"),
    (_MISINFO, 0.08, "tiktok"),
    (_SPAM, 0.07, "facebook"),
    (_FOREIGN, 0.05, "youtube"),
)
_REPEAT_RATE = 0.05


def _fill(template: str, rng: random.Random) -> str:
    hour = rng.randint(5, 20)
    return template.format(
        actor=rng.choice(_ACTORS),
        place=rng.choice(_PLACES),
        h=hour,
        h2=hour + rng.randint(1, 4),
        d=rng.randint(1, 28),
        m=rng.randint(1, 12),
        n=rng.randint(2, 900) * 10,
        name=rng.choice(_NAMES),
    )


def synthetic_posts(count: int, seed: int = 7) -> Iterator[bytes]:
    """`count` JSON lines of `RawPost`-shaped posts (about 5% are repeats of earlier ones)."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 28, tzinfo=UTC)
    pools = [pool for pool, _, _ in _MIX]
    weights = [w for _, w, _ in _MIX]
    platforms = {id(pool): platform for pool, _, platform in _MIX}
    recent: list[dict[str, object]] = []
    for i in range(count):
        if recent and rng.random() < _REPEAT_RATE:
            post = dict(rng.choice(recent))
            post["external_id"] = f"syn-{seed}-{i}"  # a re-post: new id, same text
        else:
            pool = rng.choices(pools, weights)[0]
            platform = platforms[id(pool)]
            parts = rng.sample(pool, k=min(len(pool), rng.randint(1, 2)))
            parts += rng.sample(_FILLERS, k=rng.randint(2, 4))
            rng.shuffle(parts)
            text = " ".join(_fill(part, rng) for part in parts)
            post = {
                "platform": platform,
                "source_id": f"bench-{platform}",
                "external_id": f"syn-{seed}-{i}",
                "url": f"https://{platform}.example.vn/p/{seed}/{i}",
                "kind": "article" if platform == "news" else "comment",
                "text": f"{text} #{i}" if rng.random() < 0.5 else text,
                "author_handle": f"user{rng.randint(1, 5000)}",
                "collected_at": (start + timedelta(seconds=i)).isoformat(),
                "engagement": {"likes": rng.randint(0, 3000), "shares": rng.randint(0, 1500)},
            }
            if platform == "news":
                post["title"] = text.split(",")[0][:120]
            recent = [*recent[-999:], post]
        yield json.dumps(post, ensure_ascii=False).encode("utf-8")
