"""The claim library from the command line, end to end in the embedded runner: fit the
matcher, import claims (a bad file imports nothing), a supervisor (never an analyst) publishes,
and a later post repeating a claim in other words arrives with the claim as evidence on its
alert; retiring it stops the matching. Every change is in the claim's history and the audit."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerting.store import SQLiteStore
from alerting.store.base import AlertQuery
from canhbao.cli import app
from schemas import AuditAction, EvidenceKind
from tests.claims_data import CLAIMS, QUERIES
from tests.conftest import AUDIT_KEY, PASSWORD, line

pytestmark = pytest.mark.integration

runner = CliRunner()

COLUMNS = ["statement", "variants", "rating", "rebuttal_text", "issuer", "rebuttal_url",
           "published_on", "tags"]  # fmt: skip
GOOD = [
    ["Ngân hàng Nhà nước sắp đổi tiền, tiền cũ sẽ mất giá trị từ tháng tới",
     "ngan hang sap doi tien | tiền cũ sắp mất giá trị", "false",
     "Ngân hàng Nhà nước khẳng định không có chủ trương đổi tiền.", "Ngân hàng Nhà nước",
     "https://sbv.gov.vn/bac-bo-doi-tien", "2026-11-20", "tiền tệ"],
    ["Vắc xin gây vô sinh ở phụ nữ trẻ tuổi", "", "false",
     "Bộ Y tế: không có bằng chứng nào cho thấy vắc xin gây vô sinh.", "Bộ Y tế",
     "https://moh.gov.vn/bac-bo-vac-xin", "2026-11-15", "y tế"],
]  # fmt: skip


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


def _retrieval_data(root: Path) -> Path:
    """The hand-written set laid out as the vnPara retrieval files the trainer reads."""
    folder = root / "claims"
    folder.mkdir(parents=True)
    with (folder / "claim_retrieval_vnpara_claims.jsonl").open("w", encoding="utf-8") as out:
        for claim_id, text in CLAIMS:
            out.write(json.dumps({"claim_id": claim_id, "text": text}, ensure_ascii=False) + "\n")
    with (folder / "claim_retrieval_vnpara_queries.jsonl").open("w", encoding="utf-8") as out:
        for i, (text, gold) in enumerate(QUERIES):
            row = {"query_id": f"q{i}", "text": text, "gold_claim_ids": [gold] if gold else []}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return root


def _ok(args: list[str], env: dict[str, str], stdin: str | None = None) -> str:
    result = runner.invoke(app, args, env=env, input=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_published_claim_is_matched_in_the_embedded_run_until_it_is_retired(
    tmp_path: Path, env: dict[str, str]
) -> None:
    data = _retrieval_data(tmp_path / "datasets")
    trained = _ok(["train", "claims", "--data", str(data), "--no-encoder"], env)
    assert "vnpara       hybrid" in trained
    evaluated = json.loads(_ok([
        "eval-claims", "--queries", str(data / "claims/claim_retrieval_vnpara_queries.jsonl"),
        "--claims", str(data / "claims/claim_retrieval_vnpara_claims.jsonl"),
    ], env).strip().splitlines()[-1])  # fmt: skip
    assert evaluated["success@1"] >= 0.9
    assert set(evaluated["methods"]) == {"lexical", "hybrid"}
    assert evaluated["match_single_p95_ms"] > 0

    for name, role in (("lan", "analyst"), ("minh", "supervisor")):
        _ok(["users", "add", name, "--role", role, "--password-stdin"], env, PASSWORD + "\n")

    bad = _csv(tmp_path / "bad.csv", [GOOD[0], [*GOOD[1][:6], "15/11/2026", "y tế"]])
    refused = runner.invoke(app, ["claims", "import", str(bad), "--as", "lan"], env=env)
    assert refused.exit_code == 1
    assert "line 3:" in refused.output
    assert "nothing imported" in refused.output
    assert _ok(["claims", "list"], env) == ""

    _ok(["claims", "import", str(_csv(tmp_path / "ok.csv", GOOD)), "--as", "lan"], env)
    drafts = [row.split("\t") for row in _ok(["claims", "list"], env).splitlines()]
    assert {row[2] for row in drafts} == {"draft"}
    money = next(row[0] for row in drafts if "đổi tiền" in row[3])

    by_analyst = runner.invoke(app, ["claims", "publish", money, "--as", "lan"], env=env)
    assert by_analyst.exit_code == 1
    assert "only a supervisor" in by_analyst.output
    assert "\tpublished\t" in _ok(["claims", "publish", money, "--as", "minh"], env)

    posts = tmp_path / "posts.jsonl"
    # Close to the claim's words: this matcher is lexical only, fitted on 60 hand-written posts
    # (the wiring is what is tested here; matching quality is measured by eval-claims).
    repeat = ("Cả nhà ơi. Nghe nói Ngân hàng Nhà nước sắp đổi tiền, tiền cũ sẽ mất giá trị từ"
              " tháng tới, ra rút tiền ngay đi kẻo muộn.")  # fmt: skip
    posts.write_bytes(line(external_id="1", text=repeat) + b"\n"
                      + line(external_id="2", text="Chiều nay trời mưa to, nhớ mang áo mưa nhé.")
                      + b"\n")  # fmt: skip
    _ok(["run", "--input", str(posts)], env)
    matched = {text: found for text, found in _claim_evidence(env).items() if found}
    assert matched == {repeat: [(money, GOOD[0][0])]}
    actions = _audit_actions(env)
    assert AuditAction.CLAIMS_IMPORTED in actions
    assert AuditAction.CLAIM_PUBLISHED in actions

    history = _ok(["claims", "show", money], env)
    assert "claim.created" in history
    assert "user:minh\tclaim.published" in history

    _ok(["claims", "retire", money, "--as", "minh", "--reason", "đã hết thời sự"], env)
    later = tmp_path / "later.jsonl"
    other_words = ("Tin đồn lan nhanh: tiền cũ sẽ mất giá trị từ tháng tới vì Ngân hàng Nhà nước"
                   " sắp đổi tiền, nhiều người đi rút tiền.")  # fmt: skip
    later.write_bytes(line(external_id="3", text=other_words) + b"\n")
    _ok(["run", "--input", str(later)], env)
    after = _claim_evidence(env)
    assert other_words in after  # processed, and matched by nothing: the claim is retired
    assert after[other_words] == []
    assert AuditAction.CLAIM_RETIRED in _audit_actions(env)


def _store(env: dict[str, str]) -> SQLiteStore:
    return SQLiteStore(Path(env["CANHBAO_DATA_DIR"]) / "canhbao.db", audit_key=AUDIT_KEY)


def _claim_evidence(env: dict[str, str]) -> dict[str, list[tuple[str | None, str]]]:
    """Each alerted post's text → its claim evidence (claim id, statement)."""
    store = _store(env)
    try:
        out = {}
        for alert in store.list_alerts(AlertQuery(limit=50)).alerts:
            detail = store.get_alert(alert.alert_id)
            evidence = detail.classification.evidence if detail.classification else []
            out[detail.post.text] = [
                (e.claim_id, e.text) for e in evidence if e.kind is EvidenceKind.CLAIM
            ]
        return out
    finally:
        store.close()


def _audit_actions(env: dict[str, str]) -> list[AuditAction]:
    store = _store(env)
    try:
        return [e.action for e in store.audit_log(limit=1000)]
    finally:
        store.close()
