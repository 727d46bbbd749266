"""Files -> elements (unstructured, offline) -> chunks with character offsets -> index."""

from ingest.chunking import Chunker
from ingest.discover import discover
from ingest.parsing import FILE_TYPES, Element, ParsedFile, parse_file
from ingest.pipeline import Ingestor, StopRequest, default_parse_workers
from ingest.progress import BarProgress, LogProgress, NoProgress, Progress
from ingest.report import FileOutcome, IngestReport
from ingest.workers import ParseLimits

__all__ = [
    "FILE_TYPES",
    "BarProgress",
    "Chunker",
    "Element",
    "FileOutcome",
    "IngestReport",
    "Ingestor",
    "LogProgress",
    "NoProgress",
    "ParseLimits",
    "ParsedFile",
    "Progress",
    "StopRequest",
    "default_parse_workers",
    "discover",
    "parse_file",
]
