"""The source registry: the starter file loads; every mistake is named with its entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import starter_sources_path
from ingest.exceptions import SourceConfigError
from ingest.sources import (
    FacebookPageSource,
    RssSource,
    load_sources,
    parse_interval,
    resolve_credential,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_starter_list_loads_and_names_the_big_outlets() -> None:
    registry = load_sources(starter_sources_path())
    urls = " ".join(s.url for s in registry.sources if isinstance(s, RssSource))
    for outlet in (
        "vnexpress.net",
        "tuoitre.vn",
        "thanhnien.vn",
        "dantri.com.vn",
        "vietnamnet.vn",
        "hanoimoi.vn",
        "kinhtedothi.vn",
        "tienphong.vn",
        "laodong.vn",
    ):
        assert outlet in urls
    api = [s for s in registry.sources if not isinstance(s, RssSource)]
    assert api
    assert not any(s.enabled for s in api)
    unconfirmed = {s.name for s in registry.sources if isinstance(s, RssSource) and not s.confirmed}
    assert "hanoimoi-home" in unconfirmed


@pytest.mark.parametrize(("value", "seconds"), [(90, 90), ("90s", 90), ("15m", 900), ("1h", 3600)])
def test_intervals(value: object, seconds: float) -> None:
    assert parse_interval(value) == seconds


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "{name: a, type: rss, url: 'https://x.vn/rss', intervall: 5m}",
            r"sources\[0\] \(a\).*intervall",
        ),
        ("{name: a, type: rss, url: 'https://x.vn/rss', interval: soon}", "not an interval"),
        ("{name: a, type: zalo}", "Zalo offers no API"),
        ("{name: a, type: gopher, url: 'https://x.vn'}", r"sources\[0\] \(a\)"),
        ("{name: fb, type: facebook_page, page_id: '1', credentials: EAAB123}", "never the secret"),
        ("{name: Bad Name, type: rss, url: 'https://x.vn/rss'}", "name"),
    ],
)
def test_mistakes_are_reported_with_the_entry(tmp_path: Path, entry: str, message: str) -> None:
    with pytest.raises(SourceConfigError, match=message):
        load_sources(write(tmp_path, f"sources:\n  - {entry}\n"))


def test_duplicate_names_and_broken_yaml(tmp_path: Path) -> None:
    twice = "sources:\n" + "  - {name: a, type: rss, url: 'https://x.vn/rss'}\n" * 2
    with pytest.raises(SourceConfigError, match="unique: a"):
        load_sources(write(tmp_path, twice))
    with pytest.raises(SourceConfigError, match="not valid YAML"):
        load_sources(write(tmp_path, "sources: [\n"))
    with pytest.raises(SourceConfigError, match="sources:"):
        load_sources(write(tmp_path, "- just a list\n"))
    with pytest.raises(SourceConfigError, match="cannot read"):
        load_sources(tmp_path / "missing.yaml")


def test_credentials_resolve_from_env_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANHBAO_TEST_TOKEN", "  tok-123\n")
    assert resolve_credential("env:CANHBAO_TEST_TOKEN") == "tok-123"
    secret = tmp_path / "token"
    secret.write_text("file-tok\n")
    assert resolve_credential(f"file:{secret}") == "file-tok"
    monkeypatch.delenv("CANHBAO_TEST_TOKEN")
    with pytest.raises(SourceConfigError, match="not set"):
        resolve_credential("env:CANHBAO_TEST_TOKEN")
    with pytest.raises(SourceConfigError, match="No such file"):
        resolve_credential(f"file:{tmp_path / 'nope'}")
    source = load_sources(
        write(
            tmp_path,
            "sources:\n  - {name: fb, type: facebook_page, page_id: '12',"
            " credentials: 'env:FB_TOKEN'}\n",
        )
    ).named("fb")
    assert isinstance(source, FacebookPageSource)
    assert source.api_version.startswith("v")
