"""What an ingestion run did, file by file, and its totals (printed, or JSON with --json)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["added", "updated", "unchanged", "failed", "skipped", "removed", "interrupted"]


@dataclass(frozen=True)
class FileOutcome:
    source: str
    status: Status
    reason: str | None = None
    document_id: str | None = None
    chunks: int = 0


@dataclass
class Timings:
    """Seconds. `parse`, `chunk` and `embed` are summed over the processes (and Ray actors)
    doing them, so they can exceed the wall time. `start`: starting those and loading the
    embedding model, before the first group can be embedded."""

    discover: float = 0.0
    hash: float = 0.0
    start: float = 0.0
    parse: float = 0.0
    chunk: float = 0.0
    embed: float = 0.0
    write: float = 0.0
    wall: float = 0.0


@dataclass
class IngestReport:
    collection: str
    outcomes: list[FileOutcome] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    tokens_embedded: int = 0
    timings: Timings = field(default_factory=Timings)
    interrupted: str | None = None  # why the run stopped before its end (a signal, a shutdown)

    def add(self, outcome: FileOutcome) -> None:
        self.outcomes.append(outcome)

    @property
    def counts(self) -> Counter[str]:
        return Counter(o.status for o in self.outcomes)

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def exit_code(self) -> int:
        """0 when every file was ingested or unchanged, 1 when some failed or the run was
        stopped before its end."""
        return 1 if self.failed or self.interrupted else 0

    def to_dict(self) -> dict[str, Any]:
        counts = self.counts
        seen = sum(counts[s] for s in ("added", "updated", "unchanged", "failed", "interrupted"))
        return {
            "collection": self.collection,
            "interrupted": self.interrupted,
            "files": {
                "seen": seen,
                "added": counts["added"],
                "updated": counts["updated"],
                "unchanged": counts["unchanged"],
                "failed": counts["failed"],
                "interrupted": counts["interrupted"],
                "skipped": counts["skipped"],
                "removed": counts["removed"],
            },
            "chunks": {"added": self.chunks_added, "removed": self.chunks_removed},
            "tokens_embedded": self.tokens_embedded,
            "seconds": {k: round(v, 3) for k, v in asdict(self.timings).items()},
            "failures": [{"source": o.source, "reason": o.reason} for o in self.failed],
            "skipped": [
                {"source": o.source, "reason": o.reason}
                for o in self.outcomes
                if o.status == "skipped"
            ],
            "outcomes": [asdict(o) for o in self.outcomes],
        }

    def summary(self) -> str:
        """The human summary printed at the end of `cited ingest`."""
        data = self.to_dict()
        files = data["files"]
        lines = [
            f"collection {self.collection!r}: {files['seen']} files seen: {files['added']} added, "
            f"{files['updated']} updated, {files['unchanged']} unchanged, {files['failed']} failed"
            + (f", {files['skipped']} skipped" if files["skipped"] else "")
            + (f", {files['removed']} removed (--prune)" if files["removed"] else ""),
            f"chunks: {self.chunks_added} added, {self.chunks_removed} removed; "
            f"wall time {self.timings.wall:.1f} s",
        ]
        for item in data["skipped"]:
            lines.append(f"  skipped {item['source']}: {item['reason']}")
        for item in data["failures"]:
            lines.append(f"  FAILED  {item['source']}: {item['reason']}")
        if self.interrupted:
            lines.append(
                f"STOPPED: {self.interrupted}; {files['interrupted']} files were not stored. "
                "What was stored is kept: run the same command again to finish (unchanged "
                "files are skipped)."
            )
        return "\n".join(lines)
