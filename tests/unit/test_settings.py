"""Settings: environment, secret files, and the pseudonymisation key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from canhbao.settings import (
    Settings,
    SettingsError,
    load_intake_secrets,
    load_pseudonym_key,
    load_review_tokens,
)


def test_review_tokens_come_from_env_and_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "tokens.json"
    secret.write_text('{"tok-b": "minh"}', encoding="utf-8")
    settings = Settings(review_tokens={"tok-a": "lan"}, review_tokens_file=secret)
    assert load_review_tokens(settings) == {"tok-a": "lan", "tok-b": "minh"}


@pytest.mark.parametrize("content", ["not json", '["tok"]', '{"tok": 1}'])
def test_unusable_tokens_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    secret = tmp_path / "tokens.json"
    secret.write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError, match=str(secret)):
        load_review_tokens(Settings(review_tokens_file=secret))


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANHBAO_STORE_BACKEND", "opensearch")
    monkeypatch.setenv("CANHBAO_REVIEW_TOKENS", '{"t": "lan"}')
    settings = Settings()
    assert settings.store_backend == "opensearch"
    assert settings.review_tokens == {"t": "lan"}
    monkeypatch.setenv("CANHBAO_STORE_BACKEND", "mysql")
    with pytest.raises(ValueError, match="store_backend"):
        Settings()


def test_pseudonym_key_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_pseudonym_key(settings)
    assert load_pseudonym_key(settings) == first
    mode = (tmp_path / "pseudonym.key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert load_pseudonym_key(Settings(data_dir=tmp_path, pseudonym_key="k")) == b"k"


def test_intake_secrets_from_env_and_file_and_too_short_ones_refused(tmp_path: Path) -> None:
    secret = tmp_path / "partners.json"
    secret.write_text('{"vtv": "file-secret-0123456789"}', encoding="utf-8")
    settings = Settings(
        intake_secrets={"vtv": "env-secret-0123456789", "zalo-doitac": "x" * 16},
        intake_secrets_file=secret,
    )
    assert load_intake_secrets(settings) == {
        "vtv": b"file-secret-0123456789",
        "zalo-doitac": b"x" * 16,
    }
    with pytest.raises(SettingsError, match="at least 16 characters: short"):
        load_intake_secrets(Settings(intake_secrets={"short": "abc"}))
