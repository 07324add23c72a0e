"""The account of one run: every record read is processed, a duplicate, or a dead letter."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from stream_jobs.pipeline import BatchResult

__all__ = ["RunSummary"]


@dataclass
class RunSummary:
    posts_in: int = 0
    processed: int = 0
    embedded: int = 0  # new posts given a sentence embedding (0 with the embed stage off)
    duplicates: Counter[str] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    unclassified: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    alerts_queued: int = 0
    alerts_by_severity: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0

    def add(self, result: BatchResult, records: int, new_alerts: int) -> None:
        self.posts_in += records
        self.processed += len(result.posts)
        self.embedded += len(result.embeddings)
        self.duplicates.update(
            p.duplicate_kind.value for p in result.duplicates if p.duplicate_kind
        )
        self.dead_letters.update(d.reason_code.value for d in result.dead_letters)
        for c in result.classifications:
            if c.skipped is not None:
                self.unclassified[c.skipped.value] += 1
            self.flagged.update(label.value for label in c.labels)
        self.alerts_queued += new_alerts
        self.alerts_by_severity.update(a.severity.value for a in result.alerts)

    @property
    def rejected(self) -> int:
        return sum(self.dead_letters.values())

    @property
    def balanced(self) -> bool:
        return self.posts_in == self.processed + sum(self.duplicates.values()) + self.rejected

    def as_dict(self) -> dict[str, object]:
        return {
            "posts_in": self.posts_in,
            "processed": self.processed,
            "embedded": self.embedded,
            "duplicates": dict(self.duplicates),
            "dead_letters": dict(self.dead_letters),
            "unclassified": dict(self.unclassified),
            "flagged": dict(self.flagged),
            "alerts_queued": self.alerts_queued,
            "alerts_by_severity": dict(self.alerts_by_severity),
            "elapsed_s": round(self.elapsed_s, 3),
            "balanced": self.balanced,
        }

    def render(self) -> str:
        rows: list[tuple[str, str]] = [("posts in", str(self.posts_in))]
        rows.append(("processed (new, classified)", str(self.processed)))
        for reason, n in sorted(self.unclassified.items()):
            rows.append((f"  of which unclassified: {reason}", str(n)))
        if self.embedded:
            rows.append(("  of which embedded (vector stored)", str(self.embedded)))
        rows.append(("duplicates", str(sum(self.duplicates.values()))))
        rows += [(f"  {kind}", str(n)) for kind, n in sorted(self.duplicates.items())]
        rows.append(("rejected (dead letters)", str(self.rejected)))
        rows += [(f"  {reason}", str(n)) for reason, n in sorted(self.dead_letters.items())]
        rows.append(("flagged, by label", str(sum(self.flagged.values()))))
        rows += [(f"  {label}", str(n)) for label, n in sorted(self.flagged.items())]
        rows.append(("alerts queued for review", str(self.alerts_queued)))
        rows += [(f"  {sev}", str(n)) for sev, n in sorted(self.alerts_by_severity.items())]
        check = "yes" if self.balanced else "NO"
        rows.append(("in = processed + duplicates + rejected", check))
        rows.append(("elapsed", f"{self.elapsed_s:.2f} s"))
        width = max(len(k) for k, _ in rows)
        lines = [f"{k.ljust(width)}  {v.rjust(8)}" for k, v in rows]
        rule = "-" * (width + 10)
        return "\n".join([rule, *lines, rule])
