"""`evaluate_set` scores what production scores, and keeps declined rows visible."""

from __future__ import annotations

from collections.abc import Sequence

from classifiers.base import ClassifierInput
from classifiers.datasets import LabelledSet
from classifiers.evaluate import evaluate_set
from classifiers.screening import skip_reasons
from classifiers.text import text_for_model
from schemas import Classification, Label, SkipReason, utc_now


class KeywordSpam:
    """Says "spam" for texts holding "mua ngay"; declines what the screening declines; keeps
    the texts it was given, to check what evaluation hands a model."""

    name = "keyword-spam"
    version = "1"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def predict(self, batch: Sequence[ClassifierInput]) -> list[Classification]:
        self.seen.extend(item.text for item in batch)
        skipped = skip_reasons(batch, [text_for_model(item.text) for item in batch])
        results = []
        for i, item in enumerate(batch):
            reason: SkipReason | None = skipped.get(i)
            score = 0.9 if "mua ngay" in item.text else 0.1
            results.append(
                Classification(
                    post_id=item.post_id,
                    model=self.name,
                    model_version=self.version,
                    scores={} if reason else {Label.SPAM: score},
                    thresholds={Label.SPAM: 0.5},
                    labels=[Label.SPAM] if score >= 0.5 and not reason else [],
                    skipped=reason,
                    classified_at=utc_now(),
                )
            )
        return results


def _reviews() -> LabelledSet:
    data = LabelledSet("vispamreviews", ("not_spam", "spam"))
    data.add("Sản phẩm dùng tốt, giao hàng nhanh", 0)
    data.add("Hàng đẹp lắm mọi người MUA NGAY kẻo hết", 1)
    data.add("Shop tư vấn nhiệt tình, đóng gói cẩn thận", 0)
    data.add(".", 1)  # labelled spam; no letters: the screening declines it
    data.add("😂😂😂", 1)
    data.add("Hoà nhã, khoẻ re, mua ngay nhé", 1)
    return data


def test_texts_are_normalised_as_the_pipeline_does() -> None:
    model = KeywordSpam()
    evaluate_set(model, _reviews())
    assert "Hàng đẹp lắm mọi người mua ngay kẻo hết" not in model.seen  # case is kept…
    assert "Hòa nhã, khỏe re, mua ngay nhé" in model.seen  # …the tone marks are normalised


def test_declined_rows_are_their_own_count_with_their_true_classes() -> None:
    report = evaluate_set(KeywordSpam(), _reviews())
    assert report["n"] == 6
    assert report["unclassified"] == {
        "count": 2,
        "by_true_class": {"not_spam": 0, "spam": 2},
        "counted_as": "not_spam",
    }
    # over all rows the two declined spam rows are misses; over the scored rows there are none
    assert report["per_class"]["spam"]["recall"] == 0.25
    assert report["scored_only"]["n"] == 4
    assert report["scored_only"]["macro_f1"] > report["macro_f1"]
