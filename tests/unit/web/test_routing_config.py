"""routing.yaml: the bundled file loads; rules narrow destinations; mistakes are named."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import pytest

from alerting.delivery import RoutingError, load_routing
from schemas import Alert, Label, Platform, Severity


def alert(severity: Severity, labels: list[Label]) -> Alert:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    return Alert(
        alert_id="al_" + "a" * 32,
        post_id="a" * 32,
        labels=labels,
        scores=dict.fromkeys(labels, 0.9),
        severity=severity,
        cluster_id="a" * 32,
        model_version="m",
        created_at=now,
        updated_at=now,
    )


def test_the_bundled_routing_loads_and_narrows_by_category_and_severity() -> None:
    config = load_routing(Path(str(files("alerting") / "routing.yaml")))
    assert set(config.destinations) == {"cong_an", "so_tttt"}
    serious = alert(Severity.HIGH, [Label.HATE])
    assert config.permitted(serious, Platform.FACEBOOK, Label.HATE) == {"cong_an", "so_tttt"}
    mild = alert(Severity.MEDIUM, [Label.OFFENSIVE])
    assert config.permitted(mild, Platform.FACEBOOK, Label.OFFENSIVE) == {"so_tttt"}
    rumour = alert(Severity.HIGH, [Label.MISINFORMATION])
    assert config.permitted(rumour, Platform.NEWS, Label.MISINFORMATION) == {"so_tttt"}
    assert config.permitted(rumour, Platform.NEWS, None) == set()
    assert config.suppression.window_s == 86400
    assert config.escalation.unreviewed_after_s == 6 * 3600


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "destinations: {a: {channels: [{type: kafka}]}}\nrules: [{destinations: [b]}]\n",
            "undefined destinations",
        ),
        (
            "destinations: {a: {channels: [{type: webhook, url: 'https://x', secret: hunter2}]}}\n"
            "rules: [{destinations: [a]}]\n",
            "secret",
        ),
        (
            "destinations: {a: {channels: [{type: pigeon}]}}\nrules: [{destinations: [a]}]\n",
            "channels",
        ),
        ("destinations: {a: {channels: [{type: kafka}]}}\nrules: []\n", "rules"),
        ("rules: [\n", "not valid YAML"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    with pytest.raises(RoutingError, match=message):
        load_routing(path)
