"""Claim matching commands: `train claims` (fit the matcher and its thresholds on labelled
retrieval sets) and `eval-claims` (score a query set against a claim file, one JSON object)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import typer

from canhbao._cli_common import fail, load_settings
from schemas.exceptions import CanhbaoError

if TYPE_CHECKING:
    from alerting.accounts.roles import Role
    from alerting.claims.library import SqliteClaimLibrary
    from alerting.claims.training import LabelledSet
    from classifiers.encoder.runtime import SentenceEncoder
    from schemas import Claim

__all__ = ["claims_app", "eval_claims", "train_claims"]

_VNPARA = (
    "claims/claim_retrieval_vnpara_claims.jsonl",
    "claims/claim_retrieval_vnpara_queries.jsonl",
)
_STORIES = "stories/story_docs.jsonl"


def _encoder(use: bool) -> SentenceEncoder | None:
    if not use:
        return None
    from classifiers.encoder.runtime import SentenceEncoder

    folder = load_settings().encoder_dir
    if not (folder / "encoder.json").is_file():
        typer.echo(f"no encoder at {folder}: lexical matching only", err=True)
        return None
    return SentenceEncoder.load(folder)


def _training_sets(data: Path) -> list[LabelledSet]:
    from alerting.claims.devsets import story_lead_set
    from alerting.claims.evaluate import read_claims_jsonl, read_queries
    from alerting.claims.training import LabelledSet

    sets = []
    claims, queries = (data / rel for rel in _VNPARA)
    if claims.is_file() and queries.is_file():
        sets.append(LabelledSet("vnpara", read_claims_jsonl(claims), read_queries(queries)))
    if (data / _STORIES).is_file():
        sets.append(LabelledSet("story_leads", *story_lead_set(data / _STORIES)))
    if not sets:
        raise typer.BadParameter(f"no claim retrieval data under {data}", param_hint="--data")
    return sets


def _p95(values: list[float]) -> float | None:
    return round(float(np.percentile(values, 95)), 2) if values else None


def train_claims(
    data: Annotated[Path | None, typer.Option(help="datasets folder")] = None,
    out: Annotated[Path | None, typer.Option(help="default DATA_DIR/models/claims")] = None,
    encoder: Annotated[
        bool, typer.Option(help="use the built encoder's vectors (lexical alone without)")
    ] = True,
) -> None:
    """Fit the claim matcher (lexical + vector fusion) and its suggest/strong thresholds on the
    vnPara retrieval set and hard pairs from story clusters, cross-fitted."""
    from alerting.claims.training import train_matcher

    settings = load_settings()
    target = out or settings.claims_dir
    try:
        card = train_matcher(
            _training_sets(data or settings.datasets_dir), target, _encoder(encoder),
            progress=lambda line: typer.echo(line, err=True),
        )  # fmt: skip
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(f"matcher {card['version']} written to {target}")
    policy = card["policy"]
    typer.echo(f"  thresholds: suggest {policy['suggest']}  strong {policy['strong']}")
    for name, methods in card["dev"].items():
        for method, m in methods.items():
            typer.echo(
                f"  {name:12s} {method:8s} success@1={m['success@1']} success@5={m['success@5']}"
                f" map@5={m['map@5']} no_gold_unmatched={m['no_gold_unmatched_at_suggest']}"
            )


def eval_claims(
    queries: Annotated[Path, typer.Option(help="JSONL: query_id, text, gold_claim_ids")],
    claims: Annotated[Path, typer.Option(help="JSONL: claim_id, text")],
    matcher: Annotated[Path | None, typer.Option(help="default DATA_DIR/models/claims")] = None,
) -> None:
    """Score retrieval of `claims` for `queries` with the fitted matcher; prints one JSON
    object: the hybrid's success@1/5/10, MAP@5, the share of no-gold queries left unmatched
    at *suggest*, latency, and lexical and vector alone beside it."""
    from alerting.claims.evaluate import read_claims_jsonl, read_queries, retrieval_metrics
    from alerting.claims.fusion import Fusion
    from alerting.claims.index import ClaimIndex, IndexedText
    from alerting.claims.lexical import LexicalModel
    from alerting.claims.matcher import read_matcher_card
    from alerting.claims.training import CANDIDATES, method_scores, ranked_claims

    folder = matcher or load_settings().claims_dir
    try:
        card = read_matcher_card(folder)
        lexical = LexicalModel.load(folder)
        labelled = read_queries(queries)
        library = read_claims_jsonl(claims)
    except CanhbaoError as exc:
        raise fail(exc) from exc
    fusion = Fusion.from_json(card["fusion"])
    encoder = _encoder(fusion.vectors)
    if fusion.vectors and (encoder is None or encoder.name != card["encoder"]):
        raise fail(CanhbaoError(f"the matcher was fitted with encoder {card['encoder']}: build"
                                " that encoder or retrain (`canhbao train claims`)"))  # fmt: skip
    started = time.perf_counter()
    texts = [IndexedText(cid, text) for cid, text in library]
    index = ClaimIndex(texts, encoder.embed([t.text for t in texts]) if encoder else None, lexical)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    vectors = encoder.embed([q.text for q in labelled]) if encoder else None
    embed_s = time.perf_counter() - started
    started = time.perf_counter()
    found = index.candidates([q.text for q in labelled], vectors, CANDIDATES)
    for cands in found:
        fusion.scores(cands)
    match_s = time.perf_counter() - started
    single_embed, single_match = [], []
    for i in range(min(len(labelled), 200)):  # one post at a time, as a quiet stream sends them
        t0 = time.perf_counter()
        one = encoder.embed([labelled[i].text]) if encoder else None
        t1 = time.perf_counter()
        fusion.scores(index.candidates([labelled[i].text], one, CANDIDATES)[0])
        single_embed.append((t1 - t0) * 1000)
        single_match.append((time.perf_counter() - t1) * 1000)
    methods: dict[str, Any] = {}
    names = ["lexical", "vector", "hybrid"] if fusion.vectors else ["lexical", "hybrid"]
    for method in names:
        ranked = [ranked_claims(cands, method_scores(method, cands, fusion)) for cands in found]
        suggest = card["thresholds_by_method"][method]["suggest"]
        methods[method] = retrieval_metrics(
            [ids for ids, _ in ranked], [top for _, top in ranked], labelled, suggest
        )
    result = {
        **methods["hybrid"],
        "claims": len(index),
        "encoder": card["encoder"],
        "matcher": card["version"],
        "library_load_s": round(load_s, 3),
        # In the pipeline the embed stage has already encoded the post: matching is the rest.
        "match_ms_per_query": round(match_s * 1000 / max(len(labelled), 1), 3),
        "match_single_p95_ms": _p95(single_match),
        "embed_ms_per_query": round(embed_s * 1000 / max(len(labelled), 1), 3),
        "embed_single_p95_ms": _p95(single_embed),
        "methods": methods,
    }
    typer.echo(json.dumps(result, ensure_ascii=False))


claims_app = typer.Typer(
    no_args_is_help=True, help="The known false claim library (every change audited)."
)


def _account_role(username: str) -> Role:
    """The role of the review-UI account acting (`--as`): the CLI acts for a person, with that
    person's rights, never with its own."""
    from canhbao.wiring import open_accounts

    user = open_accounts(load_settings()).get_user(username)
    if user is None or not user.active:
        raise typer.BadParameter(f"no active account {username!r}", param_hint="--as")
    return user.role


def _library() -> SqliteClaimLibrary:
    from canhbao.wiring import open_claim_library, open_store

    settings = load_settings()
    return open_claim_library(settings, open_store(settings))


def _show(claim: Claim) -> str:
    rebuttal = claim.rebuttal
    by = f"  [{rebuttal.issuer}, {rebuttal.published_on}]" if rebuttal else "  [no rebuttal]"
    return f"{claim.claim_id}\tv{claim.version}\t{claim.status.value}\t{claim.statement}{by}"


@claims_app.command("import")
def import_claims(
    path: Path,
    actor: Annotated[str, typer.Option("--as", help="the review-UI account importing")],
    kind: Annotated[Literal["auto", "claimreview", "csv"], typer.Option()] = "auto",
) -> None:
    """Import ClaimReview JSON-LD or CSV as drafts: every record is checked first, and a file
    with any bad record imports nothing (each bad record is listed with its line and why)."""
    from alerting.claims.importers import read_claim_file

    _account_role(actor)
    try:
        drafts = read_claim_file(path, kind)
        claims = _library().create_many(drafts, f"user:{actor}", source=f"file:{path.name}")
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(f"imported {len(claims)} claim(s) as drafts; a supervisor publishes them")


@claims_app.command("list")
def list_claims(
    status: Annotated[Literal["draft", "published", "retired"] | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """Claims, newest change first."""
    from schemas import ClaimStatus

    for claim in _library().claims(ClaimStatus(status) if status else None, limit):
        typer.echo(_show(claim))


@claims_app.command("show")
def show_claim(claim_id: str) -> None:
    """One claim with its history (who changed what, when)."""
    try:
        library = _library()
        claim = library.get(claim_id)
        history = library.history(claim_id)
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(claim.model_dump_json(indent=2))
    for entry in history:
        why = f" — {entry.reason}" if entry.reason else ""
        when = f"{entry.at:%Y-%m-%d %H:%M}Z"
        typer.echo(f"v{entry.version}\t{when}\t{entry.actor}\t{entry.action.value}{why}")


@claims_app.command("publish")
def publish_claim(
    claim_id: str,
    actor: Annotated[str, typer.Option("--as", help="a supervisor's review-UI account")],
) -> None:
    """Publish a draft (supervisors only; it needs its official rebuttal): from then on posts
    are matched against it and it appears among the published corrections."""
    role = _account_role(actor)
    try:
        claim = _library().publish(claim_id, f"user:{actor}", role)
    except PermissionError as exc:
        raise fail(CanhbaoError(str(exc))) from exc
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(_show(claim))


@claims_app.command("retire")
def retire_claim(
    claim_id: str,
    actor: Annotated[str, typer.Option("--as", help="a supervisor's review-UI account")],
    reason: Annotated[str, typer.Option(help="why it is no longer matched")],
) -> None:
    """Retire a claim (supervisors only): it is no longer matched or shown, and keeps its
    history."""
    role = _account_role(actor)
    try:
        claim = _library().retire(claim_id, f"user:{actor}", role, reason)
    except PermissionError as exc:
        raise fail(CanhbaoError(str(exc))) from exc
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(_show(claim))
