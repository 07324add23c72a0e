"""The `canhbao` command line, end to end on real files and a real SQLite store."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from canhbao._cli_common import EXIT_REJECTED
from canhbao.cli import app
from schemas import CONTRACTS
from tests.conftest import AUDIT_KEY, line

pytestmark = pytest.mark.integration

runner = CliRunner()


def mixed_file(path: Path) -> Path:
    lines = [
        line(external_id="1", text="bọn bắc kỳ cút hết về quê đi"),
        line(external_id="2", text="cảm ơn bạn đã chia sẻ thông tin hữu ích"),
        b"",  # blank: a separator, not a record
        b"{not json",
        line(external_id="3", text="   "),
        b"\xc3\x28 invalid utf-8",
        line(external_id="4", text="<div>html</div>"),
        line(external_id="5", text="Bọn Bắc Kỳ cút hết về quê đi"),  # exact duplicate of 1
        line(external_id="2", text="cảm ơn bạn đã chia sẻ thông tin hữu ích"),  # same item
        line(external_id="6", text="lũ tàu khựa đáng chết hết", collected_at="2026-11-28"),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_run_accounts_for_every_line_and_exits_3_on_rejections(
    tmp_path: Path, env: dict[str, str]
) -> None:
    source = mixed_file(tmp_path / "posts.jsonl")
    result = runner.invoke(app, ["run", "--input", str(source), "--json"], env=env)
    assert result.exit_code == EXIT_REJECTED, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["posts_in"] == 9
    assert summary["processed"] == 2
    assert summary["duplicates"] == {"exact": 1, "same_post": 1}
    assert summary["dead_letters"] == {
        "malformed_json": 1,
        "empty_text": 1,
        "invalid_utf8": 1,
        "html_in_text": 1,
        "schema_violation": 1,
    }
    assert summary["balanced"] is True
    assert summary["alerts_queued"] == 1

    again = runner.invoke(app, ["run", "--input", str(source), "--json"], env=env)
    second = json.loads(again.stdout.strip().splitlines()[-1])
    assert second["processed"] == 0  # the store warmed the dedup index: nothing is new
    assert second["alerts_queued"] == 0
    assert second["balanced"] is True


def test_run_on_clean_input_exits_0_and_prints_table(tmp_path: Path, env: dict[str, str]) -> None:
    source = tmp_path / "ok.jsonl"
    source.write_bytes(line(external_id="1") + b"\n")
    result = runner.invoke(app, ["run", "--input", str(source)], env=env)
    assert result.exit_code == 0, result.output
    assert "in = processed + duplicates + rejected" in result.stdout
    assert "yes" in result.stdout


def test_bundled_sample_runs(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["run", "--json"], env=env)
    assert result.exit_code == EXIT_REJECTED  # the sample carries malformed lines on purpose
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["posts_in"] >= 140
    assert summary["balanced"] is True
    assert sum(summary["dead_letters"].values()) >= 10
    assert summary["duplicates"]


def test_missing_model_is_a_clear_error(tmp_path: Path, env: dict[str, str]) -> None:
    env = {**env, "CANHBAO_MODEL_DIR": str(tmp_path / "nothing")}
    result = runner.invoke(app, ["run"], env=env)
    assert result.exit_code == 1
    assert "canhbao train baseline" in result.output


def test_missing_input_is_a_clear_error(tmp_path: Path, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["run", "--input", str(tmp_path / "no.jsonl")], env=env)
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_eval_prints_one_json_object(env: dict[str, str], tiny_data: Path) -> None:
    result = runner.invoke(
        app,
        ["eval", "--dataset", "victsd", "--file", str(tiny_data / "victsd/ViCTSD_valid.csv")],
        env=env,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("dataset", "n", "macro_f1", "per_class", "roc_auc", "ece", "confusion", "model"):
        assert key in report
    assert report["n"] == 120


def test_eval_unknown_dataset_is_a_clear_error(env: dict[str, str], tiny_data: Path) -> None:
    result = runner.invoke(
        app, ["eval", "--dataset", "nope", "--file", str(tiny_data / "vihsd/dev.csv")], env=env
    )
    assert result.exit_code == 2  # a usage error, the valid datasets listed
    assert "'vihsd'" in result.output


def test_train_baseline_writes_a_model(
    env: dict[str, str], tiny_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model"
    result = runner.invoke(
        app, ["train", "baseline", "--data", str(tiny_data), "--out", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    assert (out / "model.json").is_file()
    assert "hostile" in result.stdout


def test_schemas_export_and_audit_verify(tmp_path: Path, env: dict[str, str]) -> None:
    result = runner.invoke(app, ["schemas", "export", str(tmp_path / "s")], env=env)
    assert result.exit_code == 0
    assert len(list((tmp_path / "s").glob("*.schema.json"))) == len(CONTRACTS)
    runner.invoke(app, ["run", "--json"], env=env)
    verified = runner.invoke(app, ["audit", "verify"], env=env)
    assert verified.exit_code == 0
    assert "audit log intact" in verified.stdout


def test_bench_pipeline_ends_with_key_value_line(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["bench", "pipeline", "--posts", "300"], env=env)
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    values = dict(pair.split("=") for pair in last.split())
    # no hybrid is built in this data dir: the n-gram tier alone
    assert set(values) == {
        f"ngram_{k}"
        for k in ("posts_per_s", "classifier_posts_per_s", "vs_classifier", "p50_ms", "p95_ms",
                  "rss_mb")
    }  # fmt: skip
    assert float(values["ngram_posts_per_s"]) > 0
    # The reference is measured in the same run, and the ratio is the two figures'.
    ratio = float(values["ngram_posts_per_s"]) / float(values["ngram_classifier_posts_per_s"])
    assert abs(float(values["ngram_vs_classifier"]) - ratio) < 0.01


def test_train_hybrid_then_run_embeds_each_new_post_once(
    env: dict[str, str], tiny_encoder_dir: Path
) -> None:
    data_dir = Path(env["CANHBAO_DATA_DIR"])
    shutil.copytree(tiny_encoder_dir, data_dir / "models" / "encoder")
    trained = runner.invoke(app, ["train", "hybrid", "--max-tokens", "12"], env=env)
    assert trained.exit_code == 0, trained.output
    assert (data_dir / "models" / "hybrid" / "hybrid.json").is_file()
    ran = runner.invoke(app, ["run", "--json"], env=env)
    assert ran.exit_code in (0, 3), ran.output  # 3: the sample's malformed lines
    summary = json.loads(ran.stdout.strip().splitlines()[-1])
    with sqlite3.connect(data_dir / "canhbao.db") as db:
        first = {r[0] for r in db.execute("SELECT post_id FROM posts WHERE duplicate_kind IS NULL")}
        embedded = dict(db.execute("SELECT post_id, model FROM post_embeddings").fetchall())
        models = {
            json.loads(r[0])["model"] for r in db.execute("SELECT record FROM classifications")
        }
    assert first
    assert set(embedded) == first  # every first sighting, and no duplicate
    assert summary["embedded"] == summary["processed"] == len(first)
    assert set(embedded.values()) == {"multilingual-e5-small@000000000000/t12"}
    assert models == {"canhbao-hybrid"}


def test_console_script_is_installed(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "canhbao", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert done.returncode == 0
    assert "run" in done.stdout


def test_users_are_added_listed_and_changed_with_audit(env: dict[str, str]) -> None:
    password = "mat-khau-du-dai-123\n"
    added = runner.invoke(
        app,
        ["users", "add", "lan", "--role", "analyst", "--password-stdin"],
        input=password,
        env=env,
    )
    assert added.exit_code == 0, added.output
    weak = runner.invoke(app, ["users", "add", "minh", "--password-stdin"], input="ngan\n", env=env)
    assert weak.exit_code == 1
    assert "at least 12" in weak.output
    assert runner.invoke(app, ["users", "set-role", "lan", "supervisor"], env=env).exit_code == 0
    bad_role = runner.invoke(app, ["users", "set-role", "lan", "tong-thong"], env=env)
    assert bad_role.exit_code == 2  # a usage error, the roles listed
    listed = runner.invoke(app, ["users", "list"], env=env)
    assert listed.stdout.splitlines() == ["lan\tsupervisor\tactive"]
    from alerting.store import SQLiteStore
    from schemas import AuditAction

    store = SQLiteStore(Path(env["CANHBAO_DATA_DIR"]) / "canhbao.db", audit_key=AUDIT_KEY)
    actions = [e.action for e in store.audit_log(target="user:lan")]
    store.close()
    assert actions == [AuditAction.USER_ADDED, AuditAction.USER_ROLE_CHANGED]


def test_bench_review_runs_small(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["bench", "review", "--alerts", "300", "--requests", "10"], env=env)
    assert result.exit_code == 0, result.output
    last = dict(kv.split("=") for kv in result.stdout.strip().splitlines()[-1].split())
    assert float(last["alerts"]) == 300
    assert float(last["p95_ms"]) > 0


def test_bench_classifier_runs_small(env: dict[str, str]) -> None:
    result = runner.invoke(
        app, ["bench", "classifier", "--posts", "300", "--workers", "1"], env=env
    )
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("model=baseline ")
    values = dict(kv.split("=") for kv in last.split()[1:])
    assert float(values["posts_per_s"]) > 0
    assert float(values["p95_ms"]) > 0


def test_version_and_a_bad_setting_are_one_line_each(env: dict[str, str]) -> None:
    shown = runner.invoke(app, ["--version"], env=env)
    assert shown.exit_code == 0
    assert shown.stdout.startswith("canhbao ")
    bad = runner.invoke(app, ["run"], env={**env, "CANHBAO_BATCH_SIZE": "lots"})
    assert bad.exit_code == 2
    assert bad.stderr.strip().splitlines() == [
        "error: CANHBAO_BATCH_SIZE: Input should be a valid integer, unable to parse string as"
        " an integer (got 'lots')"
    ]
    assert "Traceback" not in bad.output


@pytest.mark.parametrize(
    "argv",
    [
        ["topics", "frob"],
        ["digest", "--period", "month"],
        ["users", "add", "lan", "--role", "root"],
        ["users", "set-role", "lan", "root"],
        ["bench", "encoder", "--backend", "gpu"],
        ["eval", "--dataset", "imdb", "--file", "x.csv"],
    ],
)
def test_a_wrong_choice_fails_and_names_the_valid_ones(
    env: dict[str, str], argv: list[str]
) -> None:
    result = runner.invoke(app, argv, env=env)
    assert result.exit_code == 2
    assert "is not one of" in result.output


def test_check_config_reports_every_error_at_once(env: dict[str, str], tmp_path: Path) -> None:
    good = runner.invoke(app, ["check", "config"], env=env)
    assert good.exit_code == 0, good.output
    assert "settings: ok" in good.stdout
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - {name: a, type: rss}\n  - {name: b, type: zalo}\n"
        "  - {name: c, type: nonsense, url: x}\n",
        encoding="utf-8",
    )
    routing = tmp_path / "routing.yaml"
    routing.write_text("destinations: 3\nrules: nope\n", encoding="utf-8")
    bad = runner.invoke(
        app, ["check", "config", "--sources", str(sources), "--routing", str(routing)], env=env
    )
    assert bad.exit_code == 1
    errors = [line for line in bad.stderr.splitlines() if line.startswith("error: ")]
    assert sum("sources[" in line for line in errors) == 3  # one per bad entry, not the first
    assert sum(line.startswith("error: routing:") for line in errors) >= 2
