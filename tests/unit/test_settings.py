"""Settings: environment, secret files, and the pseudonymisation key."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from canhbao.settings import (
    Settings,
    SettingsError,
    load_audit_key,
    load_intake_secrets,
    load_pseudonym_key,
)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANHBAO_STORE_BACKEND", "opensearch")
    monkeypatch.setenv("CANHBAO_REVIEW_TRUSTED_PROXIES", '["10.0.0.5"]')
    settings = Settings()
    assert settings.store_backend == "opensearch"
    assert settings.review_trusted_proxies == ("10.0.0.5",)
    monkeypatch.setenv("CANHBAO_STORE_BACKEND", "mysql")
    with pytest.raises(ValueError, match="store_backend"):
        Settings()


def test_pseudonym_key_is_generated_once_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_pseudonym_key(settings)
    assert load_pseudonym_key(settings) == first
    mode = (tmp_path / "pseudonym.key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert len(first) >= 32
    chosen = "k" * 32
    assert load_pseudonym_key(Settings(data_dir=tmp_path, pseudonym_key=chosen)) == chosen.encode()


@pytest.mark.parametrize("load", [load_pseudonym_key, load_audit_key])
@pytest.mark.parametrize("value", ["", "   ", "x", "k" * 31])
def test_empty_or_short_keys_are_refused_naming_the_setting(
    tmp_path: Path, load: Callable[[Settings], bytes], value: str
) -> None:
    """Finding 3 of the trust & safety issue: an empty or 1-character key was accepted."""
    setting = "CANHBAO_PSEUDONYM_KEY" if load is load_pseudonym_key else "CANHBAO_AUDIT_KEY"
    field = "pseudonym_key" if load is load_pseudonym_key else "audit_key"
    with pytest.raises(SettingsError, match=f"{setting}: the key must be at least 32 bytes"):
        load(Settings.model_validate({"data_dir": tmp_path, field: value}))
    key_file = tmp_path / "key"
    key_file.write_text(value + "\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=f"{setting}_FILE"):
        load(Settings.model_validate({"data_dir": tmp_path, f"{field}_file": key_file}))
    generated = tmp_path / ("pseudonym.key" if field == "pseudonym_key" else "audit.key")
    generated.write_text(value, encoding="utf-8")  # an emptied generated key file, too
    with pytest.raises(SettingsError, match="at least 32 bytes"):
        load(Settings(data_dir=tmp_path))


def test_audit_key_is_generated_apart_from_the_pseudonym_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert load_audit_key(settings) != load_pseudonym_key(settings)
    assert load_audit_key(settings) == load_audit_key(settings)


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


def test_a_bad_value_is_one_line_naming_its_variable() -> None:
    from pydantic import ValidationError

    from canhbao.settings import settings_errors

    with pytest.raises(ValidationError) as caught:
        Settings(batch_size="abc", store_backend="mongo")
    lines = dict(line.split(": ", 1) for line in settings_errors(caught.value))
    assert set(lines) == {"CANHBAO_BATCH_SIZE", "CANHBAO_STORE_BACKEND"}
    assert lines["CANHBAO_BATCH_SIZE"].endswith("(got 'abc')")
    assert "'sqlite'" in lines["CANHBAO_STORE_BACKEND"]  # the valid choices are named


def test_a_misspelt_variable_is_named_with_the_setting_it_resembles() -> None:
    from canhbao.settings import misspelt_variables

    environ = {
        "CANHBAO_BACH_SIZE": "64",  # a typo of CANHBAO_BATCH_SIZE
        "CANHBAO_BATCH_SIZE": "64",
        "CANHBAO_WEBHOOK_CONG_AN": "s3cret",  # a secret a routing file names: left alone
        "CANHBAO_AUDIT_KEY_FILE": "/run/secrets/audit",
        "PATH": "/usr/bin",
    }
    assert misspelt_variables(environ) == [
        "CANHBAO_BACH_SIZE is not a setting and is ignored: did you mean CANHBAO_BATCH_SIZE?"
    ]
