"""Builds the embedded pipeline from settings: the one place where real objects are chosen."""

from __future__ import annotations

import importlib.util
import logging

from alerting.accounts import AccountStore
from alerting.audit_anchor import AnchoredStore, CheckpointLog
from alerting.claims.lexical import LexicalModel
from alerting.claims.library import AuditSink, SqliteClaimLibrary
from alerting.claims.matcher import read_matcher_card
from alerting.claims.runtime import LibraryMatching
from alerting.exceptions import ClaimError, StoreError
from alerting.store import AlertStore, SQLiteStore
from canhbao.settings import Settings, load_audit_key, load_pseudonym_key
from classifiers import Classifier
from classifiers.baseline import BaselineModel
from classifiers.embedding import Embedder
from classifiers.encoder.convert import CARD_FILE as ENCODER_CARD
from classifiers.encoder.runtime import SentenceEncoder
from classifiers.hybrid.model import HYBRID_CARD, HybridModel
from stream_jobs.dedup import DedupIndex
from stream_jobs.parse import ParseLimits
from stream_jobs.pipeline import PipelineContext
from stream_jobs.routing import RoutingPolicy
from stream_jobs.topics import Topology

__all__ = [
    "audit_checkpoints",
    "build_context",
    "load_claim_matching",
    "load_classifier",
    "load_embedder",
    "open_accounts",
    "open_bare_store",
    "open_claim_library",
    "open_store",
    "topology",
]


log = logging.getLogger(__name__)


def open_accounts(settings: Settings) -> AccountStore:
    """Review-UI accounts: always a local SQLite file, whichever store holds the alerts."""
    return AccountStore(settings.data_dir / "accounts.db")


def load_classifier(settings: Settings) -> Classifier:
    if settings.classifier == "transformer":
        from classifiers.transformer.model import TransformerClassifier

        return TransformerClassifier.load(
            settings.transformer_ref, settings.transformer_backend, settings.transformer_threads
        )
    hybrid_built = (settings.hybrid_dir / HYBRID_CARD).is_file()
    if settings.classifier == "hybrid" or (settings.classifier == "auto" and hybrid_built):
        return HybridModel.load(settings.hybrid_dir, settings.encoder_backend)
    return BaselineModel.load(settings.baseline_dir)


def open_claim_library(settings: Settings, audit: AuditSink | None = None) -> SqliteClaimLibrary:
    """The claim library: a local SQLite file beside the store, like the accounts."""
    return SqliteClaimLibrary(settings.claims_db_path, audit)


def load_claim_matching(settings: Settings, embedder: Embedder | None) -> LibraryMatching | None:
    """The claim stage's library, or None (with the reason logged) where it cannot run: no
    fitted matcher, or one fitted on vectors of another encoder than the embed stage's."""
    try:
        card = read_matcher_card(settings.claims_dir)
        lexical = LexicalModel.load(settings.claims_dir)
    except ClaimError as exc:
        log.info("claim matching off: %s", exc)
        return None
    if card["fusion"]["vectors"] and (embedder is None or embedder.name != card["encoder"]):
        log.warning(
            "claim matching off: the matcher reads vectors of %s, the embed stage makes %s;"
            " rerun `canhbao train claims`",
            card["encoder"],
            None if embedder is None else embedder.name,
        )
        return None
    return LibraryMatching(open_claim_library(settings), card, lexical, embedder)


def load_embedder(settings: Settings, classifier: Classifier) -> Embedder | None:
    """The embed stage's encoder: the hybrid model's own (its vectors are what it was trained
    on, and a post is encoded once), else the built encoder; None when the stage is off."""
    if settings.embed == "off":
        return None
    if isinstance(classifier, HybridModel):
        return classifier.encoder
    if settings.embed == "auto" and not (settings.encoder_dir / ENCODER_CARD).is_file():
        return None
    return SentenceEncoder.load(
        settings.encoder_dir, settings.encoder_backend, max_tokens=settings.embed_max_tokens
    )


def open_store(settings: Settings) -> AlertStore:
    """The configured review store, its audit head checkpointed outside it after every write
    (`alerting.audit_anchor`)."""
    store = open_bare_store(settings)
    return AnchoredStore(store, audit_checkpoints(settings))


def audit_checkpoints(settings: Settings) -> CheckpointLog:
    return CheckpointLog(settings.audit_checkpoints_path, load_audit_key(settings))


def open_bare_store(settings: Settings) -> AlertStore:
    """The configured store backend alone. Search backends need the `stream` (and, for
    Elasticsearch, `elasticsearch`) extra; a missing one is a `StoreError` that says which."""
    audit_key = load_audit_key(settings)
    needs = {
        "opensearch": ("opensearchpy", "stream"),
        "elasticsearch": ("elasticsearch", "elasticsearch"),
    }
    if settings.store_backend in needs:
        module, extra = needs[settings.store_backend]
        if importlib.util.find_spec(module) is None:
            raise StoreError(
                f"the {settings.store_backend} store needs the `{extra}` extra:"
                f" pip install 'canhbao[{extra}]'"
            )
    if settings.store_backend == "elasticsearch":
        from alerting.store.elasticsearch import ElasticsearchStore

        return ElasticsearchStore.connect(
            settings.es_url,
            prefix=settings.index_prefix,
            timeout_s=settings.opensearch_timeout_s,
            audit_key=audit_key,
        )
    if settings.store_backend == "opensearch":
        # Imported here: opensearch-py comes with the `stream` extra, not the light default.
        from alerting.store.opensearch import OpenSearchStore

        return OpenSearchStore.connect(
            settings.opensearch_url,
            prefix=settings.index_prefix,
            timeout_s=settings.opensearch_timeout_s,
            audit_key=audit_key,
        )
    return SQLiteStore(settings.store_path, audit_key=audit_key)


def topology(settings: Settings) -> Topology:
    return Topology(
        prefix=settings.topic_prefix,
        partitions=settings.topic_partitions,
        destinations=settings.destinations,
    )


def build_context(settings: Settings, classifier: Classifier) -> PipelineContext:
    embedder = load_embedder(settings, classifier)
    return PipelineContext(
        embedder=embedder,
        claims=load_claim_matching(settings, embedder),
        classifier=classifier,
        dedup=DedupIndex(capacity=settings.dedup_capacity, min_jaccard=settings.dedup_min_jaccard),
        policy=RoutingPolicy(),
        limits=ParseLimits(max_text_bytes=settings.max_text_bytes),
        pseudonym_key=load_pseudonym_key(settings),
    )
