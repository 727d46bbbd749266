"""The `cited` command: ingest, docs, search, ask, reindex, config, serve.

Exit codes: 0 success; 1 failure (for `ingest`: some files failed, the rest were ingested;
for `eval --fail-under`: a threshold was missed);
2 usage or configuration error; 128 + N stopped by signal N (`ingest`: 130 Ctrl-C, 143 SIGTERM). Errors print one line naming the problem and the fix,
never a traceback (set CITED_LOG_LEVEL=debug to see one).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from answer.evaluation import THRESHOLD_METRICS
from answer.types import ANSWER_MODES, AnswerMode
from ingest import offline
from ingest.cluster import AUTO
from retrieve import MAX_TOP_K, MODES, Mode

log = logging.getLogger("cited")
TOP_K = click.IntRange(1, MAX_TOP_K)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _printable_json(text: str) -> str:
    # A lone surrogate (an undecodable file name) becomes its JSON escape, so the output
    # stays UTF-8 and valid JSON whatever the names in it.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def emit_json(value: Any) -> None:
    click.echo(_printable_json(json.dumps(_jsonable(value), indent=2, ensure_ascii=False)))


def json_line(value: Any) -> str:
    return _printable_json(json.dumps(_jsonable(value), ensure_ascii=False))


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Parsers log every oddity of every file; the per-file outcome is what matters.
    for noisy in (
        "pypdf",
        "pdfminer",
        "unstructured",
        "httpx",
        "sentence_transformers",
        "transformers",
    ):
        logging.getLogger(noisy).setLevel(logging.ERROR)


class Context:
    """Settings, built once per invocation; stages are built from them on demand. Logging
    is quiet (warnings) unless CITED_LOG_LEVEL says otherwise, but for `serve` and `ingest`,
    whose log is what an operator watches: a command's result goes to stdout, alone."""

    def __init__(self) -> None:
        from api.settings import Settings

        try:
            self.settings = Settings()
        except ValidationError as exc:
            problems = "; ".join(
                f"CITED_{'_'.join(str(p) for p in e['loc']).upper() or '?'}: {e['msg']}"
                for e in exc.errors()
            )
            raise click.UsageError(f"bad setting: {problems}") from None
        self.log_level = self.settings.log_level_for(click.get_current_context().info_name)
        _configure_logging(self.log_level)


@contextmanager
def cited_errors() -> Iterator[None]:
    """Turn CitedError into a one-line message and its exit code."""
    from index.errors import CitedError

    try:
        yield
    except CitedError as exc:
        if log.isEnabledFor(logging.DEBUG):
            log.exception("command failed")
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(exc.exit_code)


pass_context = click.make_pass_decorator(Context, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """cited: answers from your documents, every sentence backed by an exact quote."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--collection", "-c", default=None, help="Collection to ingest into [CITED_COLLECTION]."
)
@click.option("--prune", is_flag=True, help="Remove documents under PATHS whose files are gone.")
@click.option(
    "--reparse",
    is_flag=True,
    help="Parse, chunk and embed unchanged files too (after an upgrade that reads a format "
    "better, such as tables).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--if-empty", is_flag=True, help="Do nothing if the store already has documents.")
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value=AUTO,
    default=None,
    metavar="[ADDRESS]",
    help="Parse and embed on a Ray cluster: `auto` (alone: --ray) starts a local one for "
    "the run; an address joins a running one. Needs `pip install 'cited[ray]'`.",
)
@click.option(
    "--ray-cpus",
    type=int,
    default=None,
    help="CPUs of the local cluster of --ray auto [default: all].",
)
@click.option(
    "--ray-embedders",
    type=int,
    default=None,
    help="Embedding actors on the cluster [CITED_RAY_EMBEDDERS; default: one per GPU, "
    "else one per two CPUs].",
)
@pass_context
def ingest(
    ctx: Context,
    paths: tuple[Path, ...],
    collection: str | None,
    prune: bool,
    reparse: bool,
    as_json: bool,
    if_empty: bool,
    ray_address: str | None,
    ray_cpus: int | None,
    ray_embedders: int | None,
) -> None:
    """Ingest files and folders (recursively) into a collection.

    Unchanged files are skipped by content hash (unless --reparse); changed files replace
    their old version. SIGTERM or Ctrl-C stops after the current step (what was stored
    stays; run again to finish), a second one at once.
    Exits 0 when every file was ingested or unchanged, 1 when some failed, 128 + the
    signal's number when stopped.
    """
    from api import wiring
    from api.signals import stop_on_signals
    from index import ConfigError
    from ingest import StopRequest
    from ingest.cluster import RayCluster
    from ingest.progress import for_stream

    settings = ctx.settings
    if ray_embedders is not None:
        settings = settings.model_copy(update={"ray_embedders": ray_embedders})
    with cited_errors():
        if ray_address is None and (ray_cpus is not None or ray_embedders is not None):
            raise ConfigError("--ray-cpus and --ray-embedders go with --ray")
        store = wiring.open_store(settings)
        if if_empty and (count := store.count_documents()):
            click.echo(f"the store already has {count} documents; nothing ingested (--if-empty)")
            return
        stop = StopRequest()
        with ExitStack() as stack:
            signals = stack.enter_context(stop_on_signals(stop, "the ingestion"))
            stack.enter_context(wiring.store_lock(settings))
            cluster = None
            if ray_address is not None:
                cluster = stack.enter_context(RayCluster(ray_address, ray_cpus))
            kb = wiring.knowledge_base(settings, store)
            progress = for_stream(sys.stderr)
            model = wiring.embedder(settings)
            runner = wiring.ingestor(settings, kb, model, progress, cluster, stop)
            report = runner.run(
                list(paths), collection or settings.collection, prune=prune, reparse=reparse
            )
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(report.summary())
    sys.exit(128 + signals[0] if signals else report.exit_code)


@cli.group()
def docs() -> None:
    """List, show, print and remove documents."""


@docs.command("list")
@click.option("--collection", "-c", default=None, help="Only this collection.")
@click.option("--limit", default=1000, show_default=True)
@click.option("--offset", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_context
def docs_list(ctx: Context, collection: str | None, limit: int, offset: int, as_json: bool) -> None:
    """List documents: id, collection, chunks, title, source."""
    from api import wiring

    with cited_errors():
        documents = wiring.existing_store(ctx.settings).list_documents(collection, limit, offset)
    if as_json:
        emit_json(documents)
        return
    for doc in documents:
        click.echo(
            f"{doc.id}  {doc.collection:<12} {doc.n_chunks:>5} chunks  {doc.title[:50]:<50}  {doc.source}"
        )
    if not documents:
        where = f"collection {collection!r} of " if collection else ""
        shown = f" from offset {offset}" if offset else ""
        click.echo(
            f"no documents{shown} in {where}the store at {ctx.settings.store_place}; add some "
            "with `cited ingest PATH`, or point CITED_DATA_DIR at another data folder",
            err=True,
        )


@docs.command("show")
@click.argument("document_id")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def docs_show(ctx: Context, document_id: str, as_json: bool) -> None:
    """Show one document's metadata and chunks."""
    from api import wiring

    with cited_errors():
        store = wiring.existing_store(ctx.settings)
        doc = store.get_document(document_id)
        chunks = store.document_chunks(document_id)
    if as_json:
        emit_json({**_jsonable(doc), "chunks": _jsonable(chunks)})
        return
    for key, value in _jsonable(doc).items():
        click.echo(f"{key:>13}: {value}")
    for chunk in chunks:
        where = f"p. {chunk.page}" if chunk.page else ""
        click.echo(
            f"  #{chunk.ordinal} [{chunk.start}:{chunk.end}] {chunk.n_tokens} tokens {where} "
            f"{(chunk.section or '')[:40]}"
        )


@docs.command("text")
@click.argument("document_id")
@pass_context
def docs_text(ctx: Context, document_id: str) -> None:
    """Print the stored extracted text exactly (chunk offsets refer to it)."""
    from api import wiring

    with cited_errors():
        text = wiring.existing_store(ctx.settings).document_text(document_id)
    sys.stdout.write(text)


@docs.command("rm")
@click.argument("document_ids", nargs=-1, required=True)
@pass_context
def docs_rm(ctx: Context, document_ids: tuple[str, ...]) -> None:
    """Remove documents from the store, the vector index and the lexical index."""
    from api import wiring

    settings = ctx.settings
    with cited_errors():
        store = wiring.existing_store(settings)  # not an empty one made to delete from
    with cited_errors(), wiring.store_lock(settings):
        kb = wiring.knowledge_base(settings, store)
        removed = kb.delete(list(document_ids))
        kb.flush()
    click.echo(f"removed {len(document_ids)} documents ({len(removed)} chunks)")


def scope_options(command: Any) -> Any:
    """--collection / --document / --source-prefix: where search and ask may look."""
    command = click.option(
        "--source-prefix", default=None, help="Only documents whose source starts with this."
    )(command)
    command = click.option(
        "--document", "documents", multiple=True, help="Only this document id (repeatable)."
    )(command)
    return click.option("--collection", "-c", default=None, help="Only this collection.")(command)


def answer_options(command: Any) -> Any:
    """--top-k, --mode and the scope options of the commands that answer questions."""
    command = scope_options(command)
    command = click.option(
        "--mode",
        type=click.Choice(ANSWER_MODES),
        default=None,
        help="[CITED_ANSWER_MODE, default extractive]",
    )(command)
    return click.option("--top-k", "-k", default=None, type=TOP_K, help="[CITED_TOP_K]")(command)


def _answerer(settings: Any) -> tuple[Any, Any]:
    """(knowledge base, question answerer) on the configured store, its model checked."""
    from api import wiring

    kb = wiring.knowledge_base(settings, wiring.existing_store(settings))
    kb.check_model()
    qa = wiring.question_answerer(
        settings, wiring.retriever(settings, kb, wiring.embedder(settings))
    )
    return kb, qa


def _note_if_empty(settings: Any, kb: Any, collection: str | None) -> bool:
    """On stderr, when the store (or the collection) has no documents: which store that
    is, so that an answer from the wrong folder is not taken for "the documents do not
    answer". True when it said so."""
    if kb.store.count_documents(collection):
        return False
    where = f"collection {collection!r} of " if collection else ""
    click.echo(
        f"note: {where}the store at {settings.store_place} has no documents; add some with "
        "`cited ingest PATH`, or point CITED_DATA_DIR at another data folder",
        err=True,
    )
    return True


def _scope(collection: str | None, documents: tuple[str, ...], source_prefix: str | None) -> Any:
    from index import Scope

    return Scope(collection=collection, document_ids=documents, source_prefix=source_prefix)


@cli.command()
@click.argument("query", required=False)
@click.option(
    "--queries",
    "queries_file",
    type=click.File("r"),
    default=None,
    help='Search each query of FILE (lines, or JSON lines with "query"); prints one JSON '
    'result per line ({"query", "passages"}), the models loaded once.',
)
@click.option("--top-k", "-k", default=None, type=TOP_K, help="[CITED_TOP_K]")
@click.option(
    "--mode", type=click.Choice(MODES), default=None, help="[CITED_SEARCH_MODE, default hybrid]"
)
@scope_options
@click.option("--json", "as_json", is_flag=True)
@pass_context
def search(
    ctx: Context,
    query: str | None,
    queries_file: Any,
    top_k: int | None,
    mode: Mode | None,
    collection: str | None,
    documents: tuple[str, ...],
    source_prefix: str | None,
    as_json: bool,
) -> None:
    """The passages that best match QUERY (hybrid: dense + lexical, fused)."""
    from api import wiring
    from index.errors import CitedError

    if (query is None) == (queries_file is None):
        raise click.UsageError("give either a QUERY or --queries FILE")
    settings = ctx.settings
    scope = _scope(collection, documents, source_prefix)
    with cited_errors():
        kb = wiring.knowledge_base(settings, wiring.existing_store(settings))
        kb.check_model()
        retriever = wiring.retriever(settings, kb, wiring.embedder(settings))
        if query is not None:
            passages = retriever.search(query, top_k or settings.top_k, mode, scope)
            empty = not passages and _note_if_empty(settings, kb, collection)
    if query is None:
        failed = 0
        for text in _read_lines(queries_file, "query"):
            try:
                found = retriever.search(text, top_k or settings.top_k, mode, scope)
                line: dict[str, Any] = {"query": text, "passages": [p.to_dict() for p in found]}
            except CitedError as exc:
                failed += 1
                line = {"query": text, "error": {"code": exc.code, "message": exc.message}}
            click.echo(json_line(line))
        _note_if_empty(settings, kb, collection)
        sys.exit(1 if failed else 0)
    if as_json:
        emit_json([p.to_dict() for p in passages])
        return
    if not passages and not empty:
        click.echo(f"no passages found in the store at {settings.store_place}", err=True)
    for rank, passage in enumerate(passages, 1):
        page = f", p. {passage.page}" if passage.page else ""
        click.echo(f"{rank}. [{passage.score:.3f}] {passage.title} ({passage.source}{page})")
        excerpt = " ".join(passage.text.split())
        click.echo(f"   {excerpt[:300]}{'...' if len(excerpt) > 300 else ''}")


def _read_lines(handle: Any, field: str) -> Iterator[str]:
    """The texts of a file: one per line, or JSON lines with a `field` string."""
    for number, line in enumerate(handle, 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise click.BadParameter(f"line {number} is not valid JSON: {exc}") from None
            if not isinstance(value, dict) or not isinstance(value.get(field), str):
                raise click.BadParameter(f'line {number} has no "{field}" string')
            yield value[field]
        else:
            yield line


def print_answer(answer: Any) -> None:
    click.echo(answer.answer)
    if answer.abstained:
        click.echo(f"({answer.reason})")
        return
    click.echo("\nSources:")
    for citation in answer.citations:
        page = f", p. {citation.page}" if citation.page else ""
        click.echo(f"[{citation.n}] {citation.title} ({citation.source}{page})")
        click.echo(f'    "{" ".join(citation.quote.split())}"')


@cli.command()
@click.argument("question", required=False)
@click.option(
    "--questions",
    "questions_file",
    type=click.File("r"),
    default=None,
    help='Ask each question of FILE (lines, or JSON lines with "question"); '
    "prints one JSON answer per line.",
)
@answer_options
@click.option("--json", "as_json", is_flag=True, help="Print the answer contract as JSON.")
@pass_context
def ask(
    ctx: Context,
    question: str | None,
    questions_file: Any,
    top_k: int | None,
    mode: AnswerMode | None,
    collection: str | None,
    documents: tuple[str, ...],
    source_prefix: str | None,
    as_json: bool,
) -> None:
    """Answer QUESTION from the documents; every sentence cites an exact quote."""
    from index.errors import CitedError

    if (question is None) == (questions_file is None):
        raise click.UsageError("give either a QUESTION or --questions FILE")
    settings = ctx.settings
    scope = _scope(collection, documents, source_prefix)
    with cited_errors():
        kb, qa = _answerer(settings)
        if question is not None:
            answer = qa.ask(question, mode=mode, top_k=top_k, scope=scope)
            if answer.abstained:
                _note_if_empty(settings, kb, collection)
            if as_json:
                emit_json(answer.to_dict())
            else:
                print_answer(answer)
            return
    failed = 0
    for text in _read_lines(questions_file, "question"):
        try:
            line = qa.ask(text, mode=mode, top_k=top_k, scope=scope).to_dict()
        except CitedError as exc:
            failed += 1
            line = {"question": text, "error": {"code": exc.code, "message": exc.message}}
        click.echo(json_line(line))
    _note_if_empty(settings, kb, collection)
    sys.exit(1 if failed else 0)


def _thresholds(_: click.Context, __: click.Parameter, specs: tuple[str, ...]) -> dict[str, float]:
    from answer.evaluation import parse_thresholds
    from index import ConfigError

    try:
        return parse_thresholds(specs)
    except ConfigError as exc:
        raise click.BadParameter(exc.message) from None


@cli.command("eval")
@click.argument("questions_file", type=click.Path(path_type=Path, dir_okay=False))
@answer_options
@click.option(
    "--fail-under",
    "thresholds",
    multiple=True,
    metavar="MEASURE=SHARE[,...]",
    callback=_thresholds,
    help="Exit 1 when a measure is under its share (0-1 or a percentage), naming each one "
    "missed; repeatable. E.g. --fail-under correct=0.8,abstention_recall=75%%. Measures: "
    f"{', '.join(THRESHOLD_METRICS)}.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def evaluate(
    ctx: Context,
    questions_file: Path,
    top_k: int | None,
    mode: AnswerMode | None,
    collection: str | None,
    documents: tuple[str, ...],
    source_prefix: str | None,
    thresholds: dict[str, float],
    as_json: bool,
) -> None:
    """Ask every question of QUESTIONS_FILE (JSON lines: "question", optional "answers",
    "source", "unanswerable") and report retrieval hit@k, answer accuracy, abstention
    precision and recall, citation validity, latency of the warm questions (the first one,
    which loads the models, is timed apart), the slowest questions and every failure.

    Exits 0, or with --fail-under 1 when a threshold is missed (each one named on stderr)."""
    from answer.evaluation import Evaluator, missed_thresholds, read_questions, render
    from index import ConfigError

    settings = ctx.settings
    with cited_errors():
        try:
            lines = questions_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {questions_file}: {exc}") from exc
        questions = read_questions(lines, str(questions_file))
        kb, qa = _answerer(settings)
        scope = _scope(collection, documents, source_prefix)
        report = Evaluator(qa, kb.document_text, mode=mode, top_k=top_k, scope=scope).run(questions)
        _note_if_empty(settings, kb, collection)
    missed = missed_thresholds(report.metrics, thresholds)
    if as_json:
        emit_json({**report.to_dict(), "thresholds": thresholds, "missed": missed})
    else:
        click.echo(render(report))
    for line in missed:
        click.echo(f"threshold missed (--fail-under): {line}", err=True)
    if thresholds and not missed:
        met = ", ".join(f"{name} >= {least:.1%}" for name, least in thresholds.items())
        click.echo(f"thresholds met: {met}", err=True)
    sys.exit(1 if missed else 0)


@cli.command()
@click.option("--reembed", is_flag=True, help="Re-embed every chunk with the configured model.")
@pass_context
def reindex(ctx: Context, reembed: bool) -> None:
    """Rebuild the vector index from the SQL store (no re-embedding unless --reembed)."""
    from api import wiring
    from index import ConfigError

    settings = ctx.settings
    with cited_errors():
        store = wiring.existing_store(settings)  # not an empty one made to index
    with cited_errors(), wiring.store_lock(settings):
        kb = wiring.knowledge_base(settings, store)
        if reembed:
            model = wiring.document_encoder(settings, wiring.embedder(settings))

            def embed(texts: list[str]) -> Any:
                # Chunks were cut for the old model; one the new model cannot read whole
                # would be truncated silently, so refuse (the transaction rolls back).
                limit = model.max_tokens
                too_long = sum(len(model.tokenizer.offsets(t)) > limit for t in texts)
                if too_long:
                    raise ConfigError(
                        f"{too_long} chunks are longer than {settings.embedding_model} can read "
                        f"({model.max_tokens} tokens), so re-embedding would truncate them; "
                        "nothing was changed. Re-ingest your documents into a new data dir "
                        "(CITED_DATA_DIR) with this model instead."
                    )
                return model.embed_documents(texts)

            total = store.reembed(settings.index_model, model.dimension, embed)
            click.echo(f"re-embedded {total} chunks with {settings.index_model}")
        count = kb.rebuild()
    click.echo(f"vector index rebuilt: {count} vectors")


@cli.command()
@pass_context
def prepare(ctx: Context) -> None:
    """Make the embedding model's ONNX export (CITED_MODEL_CACHE_DIR), once per machine.

    Ingestion and questions use it; made here, no `cited ingest` needs to load torch to
    make it. `make install` runs this.
    """
    from api import wiring

    settings = ctx.settings
    with cited_errors():
        encoder = wiring.document_encoder(settings, wiring.embedder(settings))
        dimension = encoder.dimension  # makes the export if it is not there yet
    click.echo(
        f"{encoder.model_name} ({dimension} dimensions) ready for ingestion "
        f"(CITED_DOCUMENT_ENCODER={settings.document_encoder}); exports in {settings.model_dir}"
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@pass_context
def config(ctx: Context, as_json: bool) -> None:
    """Print the settings in force (secrets masked), each with where it comes from: the
    environment, its default, or what leaving it unset means."""
    from api import wiring

    settings = ctx.settings
    shown = settings.public(wiring.in_force(settings))
    if as_json:
        emit_json(shown)
        return
    sources = settings.sources()
    folder = settings.data_dir
    state = "exists" if folder.is_dir() else "does not exist: `cited ingest` makes it"
    click.echo(f"# data folder: {folder} ({state})")
    for key, value in shown.items():
        line = f"CITED_{key.upper()}={'' if value is None else value}"
        click.echo(f"{line:<60} # {sources[key]}")


@cli.command()
@click.option("--host", default=None, help="Bind address [CITED_HOST].")
@click.option("--port", default=None, type=int, help="Port [CITED_PORT].")
@click.option(
    "--insecure",
    is_flag=True,
    default=None,
    help="Serve a non-loopback address without API keys [CITED_INSECURE].",
)
@pass_context
def serve(ctx: Context, host: str | None, port: int | None, insecure: bool | None) -> None:
    """Serve the chat page and the API."""
    import uvicorn

    from api.app import create_app
    from api.auth import is_loopback
    from api.deps import configured_keys
    from api.signals import SHUTDOWN_GRACE_S, StoppingServer
    from index import ConfigError

    host = host or ctx.settings.host
    settings = ctx.settings.model_copy(update={"host": host})  # the guard reads the bind
    with cited_errors():
        if not configured_keys(settings) and not is_loopback(host):
            if not (insecure or settings.insecure):
                raise ConfigError(
                    f"refusing to serve {host} without API keys: anyone who can reach it could "
                    "read and delete your documents. Set CITED_API_KEYS (or "
                    "CITED_API_KEYS_FILE), or bind 127.0.0.1, or pass --insecure"
                )
            log.warning("serving without API keys on a non-loopback address host=%s", host)
        app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=host,
        port=port or settings.port,
        log_level=ctx.log_level,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    StoppingServer(config, app.state.services.jobs.stop).run()


def main() -> None:
    offline.set_environment()
    cli()
