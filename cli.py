"""The ``readloom`` command: parse options, call the code that owns the work, render.

Domain errors become one clean message and exit code 2; set READLOOM_DEBUG=1 for
tracebacks.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from readloom import fast_exit
from readloom.errors import ReadloomError
from readloom.settings import configure_offline_environment, get_settings

# Start-up (issue 17): this module imports nothing heavy. Models, Chroma, Presidio and
# the graph load inside the command that needs them, after its arguments and any
# passage id have been checked, so a typo is reported in well under a second.


def _clean_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ReadloomError as exc:
            if os.environ.get("READLOOM_DEBUG"):
                raise
            raise click.ClickException(exc.message) from None

    return wrapper


class _Readloom(click.Group):
    """The console script's group: a command that called ``fast_exit.allow()`` ends without
    the interpreter's teardown. Only ``__call__`` (the entry point) does this; ``main``, which
    tests call through click's runner, exits as usual."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.main(*args, **kwargs)
        except SystemExit as exc:
            fast_exit.finish(exc.code)


@click.group(cls=_Readloom, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="readloom")
def main() -> None:
    """readloom: a reading-comprehension tutor and question generator for K-12.

    Works offline on the embedded defaults (no API key needed). Set OPENAI_API_KEY or
    ANTHROPIC_API_KEY to use those models, with the offline tier as the last fallback.
    """
    configure_offline_environment()
    from readloom.observability import configure_logging, configure_telemetry

    configure_logging(get_settings(), level=get_settings().log_level)
    configure_telemetry(get_settings())


def _app():
    from readloom.service import Readloom

    app = Readloom(get_settings())
    fast_exit.on_close(app.close_stores)
    fast_exit.allow()
    return app


def _checked_passage_options(*, required: bool) -> Callable[..., Any]:
    """Check ``--file``/``--passage-id`` before the command body loads any model: both
    given, neither (when ``required``), or an id the catalogue does not know."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            file, passage_id = kwargs.get("file"), kwargs.get("passage_id")
            if file and passage_id:
                raise click.UsageError("give --file or --passage-id, not both")
            files = kwargs.get("files") or ((file,) if file else ())
            ids = kwargs.get("passage_ids") or ((passage_id,) if passage_id else ())
            if required and not (files or ids or kwargs.get("jsonl")):
                also = ", or --jsonl PATH" if "jsonl" in kwargs else ""
                raise click.UsageError(
                    f"give --file PATH or --passage-id ID (see `readloom passages`){also}"
                )
            if ids:
                from readloom.retrieval.catalogue import is_known

                for pid in ids:
                    if is_known(get_settings(), pid) is False:
                        raise click.BadParameter(
                            f"no passage with id {pid!r} (see `readloom passages`)",
                            param_hint="'--passage-id'",
                        )
            return fn(*args, **kwargs)

        return wrapper

    return decorate


def _passage_from_options(
    app: Any, file: Path | None, passage_id: str | None, grade: int | None
) -> str:
    if file and passage_id:
        raise click.UsageError("give --file or --passage-id, not both")
    if file:
        report = app.services.store.ingest_paths([file])
        return report.passage_ids[0]
    if passage_id:
        return passage_id
    raise click.UsageError("give --file PATH or --passage-id ID (see `readloom passages`)")


# --- ingest ---------------------------------------------------------------------------


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@_clean_errors
def ingest(paths: tuple[Path, ...], fmt: str) -> None:
    """Add passages (.txt, .md with front matter, .jsonl) to the local collection.

    Idempotent: unchanged files are skipped, changed ones replace their old chunks.
    """
    from readloom.service import build_services

    store = build_services(get_settings()).store
    fast_exit.on_close(store.close)
    fast_exit.allow()
    report = store.ingest_paths(list(paths), progress=fmt == "text")
    if fmt == "json":
        click.echo(report.model_dump_json())
    else:
        click.echo(
            f"added {len(report.added)}, updated {len(report.updated)}, "
            f"skipped {len(report.skipped)} passage(s)"
        )


@main.command()
@click.option("--grade", type=int, help="Only passages written for this grade.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@_clean_errors
def passages(grade: int | None, fmt: str) -> None:
    """List the passages you can tutor on or generate questions for."""
    from readloom.retrieval.catalogue import library

    settings = get_settings()
    entries = library(settings)
    if entries is None:  # a store catalogued by nothing yet: ask it (no models load)
        from readloom.retrieval.catalogue import Entry
        from readloom.retrieval.store import PassageStore

        entries = [
            Entry(p.passage_id, p.title, p.grade, p.genre, p.source, "", p.topics, p.characters)
            for p in PassageStore(settings).list()
        ]
    items = [e for e in entries if grade is None or e.grade == grade]
    if fmt == "json":
        keys = ("passage_id", "title", "grade", "genre", "topics", "characters", "source")
        click.echo(json.dumps([{k: getattr(e, k) for k in keys} for e in items]))
        return
    for e in items:
        click.echo(f"{e.passage_id:32} grade {e.grade}  {e.genre:13} {e.title}")


@main.command("warm-up")
@_clean_errors
def warm_up() -> None:
    """Embed the shipped passages once for this installation (bootstrap.sh runs it), so a
    first start in a new home loads no embedding model. Holds no personal data."""
    from readloom.retrieval.corpus_vectors import warm_up as fill

    settings = get_settings()
    rows = fill(settings)
    click.echo(f"{rows} shipped sentence vectors in {settings.corpus_vectors_path}")


# --- questions ------------------------------------------------------------------------


@main.command()
@click.option("--file", "files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A passage file; repeat for a batch.")  # fmt: skip
@click.option("--passage-id", "passage_ids", multiple=True, help="A stored passage; repeatable.")
@click.option("--jsonl", "jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='Passages, one JSON object a line: {"text": …, "title": …, "grade": …} '
                   'or {"passage_id": …}.')  # fmt: skip
@click.option("--count", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--grade", type=click.IntRange(1, 12), help="Target grade (default: the passage's).")
@click.option("--types", help="Comma-separated question types, e.g. feeling,prediction,vocabulary.")
@click.option("--choices", is_flag=True, help="Multiple choice: three distractors per question.")
@click.option("--format", "fmt", type=click.Choice(["json", "md"]), default="md", show_default=True,
              help="json: one object per passage per line, in input order.")  # fmt: skip
@click.option(
    "--keep/--no-keep", default=False, show_default=True,
    help="With --file or --jsonl text: also add it to the library (default: used once).",
)  # fmt: skip
@_clean_errors
@_checked_passage_options(required=True)
def questions(
    files: tuple[Path, ...], passage_ids: tuple[str, ...], jsonl: Path | None, count: int,
    grade: int | None, types: str | None, choices: bool, fmt: str, keep: bool,
) -> None:  # fmt: skip
    """Generate comprehension questions, each with its answer and evidence sentence.

    A --file (or a JSONL line's text) is used for this run only; it joins the library only
    with --keep."""
    import asyncio

    from readloom.service.question_batch import BatchItem, read_jsonl, run_batch

    wanted = _question_types(types)
    items = [BatchItem(source=str(f), file=f) for f in files]
    items += [BatchItem(source=p, request={"passage_id": p}) for p in passage_ids]
    items += read_jsonl(jsonl) if jsonl else []
    failed = 0

    async def run() -> None:
        nonlocal failed
        bar = click.progressbar(length=len(items), label="passages", file=sys.stderr)
        show = len(items) > 1
        async with _app() as app:
            if show:
                bar.__enter__()
            try:
                async for res in run_batch(
                    app, items, count=count, grade=grade, types=wanted, choices=choices, keep=keep,
                    resolve_file=lambda a, f: _passage_from_options(a, f, None, grade),
                    on_done=(lambda: bar.update(1)) if show else None,
                ):  # fmt: skip
                    failed += res.error is not None
                    _print_questions(res, fmt)
            finally:
                if show:
                    bar.__exit__(None, None, None)

    asyncio.run(run())
    if failed:
        if len(items) == 1:
            raise SystemExit(1)  # the one-line reason is already on stderr
        raise click.ClickException(f"{failed} of {len(items)} passage(s) gave no questions")


def _question_types(types: str | None) -> list[str] | None:
    import typing

    from readloom.state import QuestionType

    if not types:
        return None
    known = typing.get_args(QuestionType)
    wanted = [t.strip().replace(" ", "_").replace("-", "_") for t in types.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise click.BadParameter(
            f"unknown type(s) {', '.join(unknown)}; choose from {', '.join(known)}",
            param_hint="--types",
        )
    return wanted


def _print_questions(res: Any, fmt: str) -> None:
    if res.note:
        click.echo(f"{res.source}: {res.note}", err=True)
    if fmt == "json":
        click.echo(res.model_dump_json(exclude_none=True))
        if res.error:
            click.echo(f"{res.source}: {res.error}", err=True)
        return
    if res.error and not res.questions:
        click.echo(f"{res.source}: {res.error}", err=True)
        return
    click.echo(f"# {res.title} (grade {res.grade})\n")
    for i, q in enumerate(res.questions, 1):
        click.echo(f"{i}. {q['question']}  [{q['type']}, {q['level']}, {q['skill']}]")
        for letter, option in zip("ABCD", q.get("choices") or [], strict=False):
            click.echo(f"   {letter}. {option}")
        click.echo(f"   Answer: {q['answer']}")
        click.echo(f'   Evidence: "{q["evidence"]}"\n')
    prov = res.provenance
    click.echo(f"_{prov.get('provider')} / {prov.get('model')} / {prov.get('prompt')}_\n")


# --- tutor ----------------------------------------------------------------------------


@main.command()
@click.option("--file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--passage-id")
@click.option("--grade", type=click.IntRange(1, 12))
@click.option("--session", "session_id", help="Resume a session by the id it printed at start.")
@click.option(
    "--student", "student_id", default="cli-student", show_default=True,
    help="Whose mastery this session reads and updates (it carries over between runs).",
)  # fmt: skip
@click.option("--new-student", is_flag=True, help="Use a fresh local learner with no history.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@_clean_errors
@_checked_passage_options(required=False)
def tutor(
    file: Path | None,
    passage_id: str | None,
    grade: int | None,
    session_id: str | None,
    student_id: str,
    new_student: bool,
    fmt: str,
) -> None:
    """Chat with the reading tutor. Piped input: one student message per line.

    The tutor speaks first: it greets and asks the first question (with --format json that
    opening is the first JSON line). Mastery belongs to the --student learner and carries
    over from run to run, so the first question can differ between runs; --new-student
    starts a learner with no history (its id is printed, to reuse with --student).
    """
    import asyncio
    import uuid

    interactive = sys.stdin.isatty()
    resuming = session_id is not None
    session_id = session_id or f"cli-{uuid.uuid4().hex[:12]}"
    if new_student:
        student_id = f"cli-learner-{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        async with _app() as app:
            pid = None
            if file or passage_id:
                pid = _passage_from_options(app, file, passage_id, grade)
            exists = await app.session_exists(session_id) if resuming else False
            if resuming and not exists and pid is None:
                raise click.ClickException(
                    f"there is no tutoring session '{session_id}' on this machine. Resume one "
                    "with the id `readloom tutor` printed when it started, or start a new one "
                    "with --passage-id ID (list them with `readloom passages`) or --file PATH"
                )
            if fmt == "text":
                verb = "resuming" if exists else "session"
                click.echo(
                    f"{verb} {session_id} for student {student_id}"
                    + (" — type your answers; Ctrl-D to stop." if interactive else ""),
                    err=not interactive,
                )
            if not exists:
                if pid is None:
                    raise click.UsageError(
                        "a new tutoring session needs a passage: give --passage-id ID "
                        "(see `readloom passages`) or --file PATH"
                    )
                opening = await app.open_session(
                    session_id=session_id, passage_id=pid, grade=grade, student_id=student_id
                )
                _render_turn(opening, fmt, student_id=student_id)
                pid = None
            while True:
                line = _read_line(interactive)
                if line is None:
                    break
                if not line.strip():
                    continue
                result = await app.tutor_turn(
                    session_id=session_id,
                    message=line,
                    passage_id=pid,
                    grade=grade,
                    student_id=student_id,
                )
                pid = None
                _render_turn(result, fmt, student_id=student_id)

    asyncio.run(run())


def _read_line(interactive: bool) -> str | None:
    try:
        return input("you> ") if interactive else sys.stdin.readline() or None
    except EOFError:
        return None


def _render_turn(result: Any, fmt: str, *, student_id: str | None = None) -> None:
    if fmt == "json":
        graded = result.grade_result
        payload = {
            "session_id": result.session_id,
            "student_id": student_id,
            "reply": result.reply,
            "provider": result.provider,
            "model": result.model,
            "move": result.move,
            "intervention": result.intervention.kind if result.intervention else None,
            "blocked": result.blocked,
            "correct": graded.correct if graded else None,
            "verdict": graded.verdict if graded else None,
            "assisted": graded.assisted if graded else False,
            "question": result.current_question.question if result.current_question else None,
            "provenance": result.provenance,
        }
        click.echo(json.dumps(payload))
    else:
        click.echo(f"tutor> {result.reply}\n")


# --- mastery --------------------------------------------------------------------------


@main.group()
def mastery() -> None:
    """Fit and evaluate the knowledge-tracing (BKT) mastery model."""


@mastery.command("fit")
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@_clean_errors
def mastery_fit(data: Path, out: Path) -> None:
    """Fit BKT parameters per skill from a CSV (user_id, skill_name, correct, order_id)."""
    from readloom.tools.mastery_cli import fit_command

    click.echo(json.dumps(fit_command(data, out)))


@mastery.command("evaluate")
@click.option(
    "--model", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_clean_errors
def mastery_evaluate(model: Path, data: Path) -> None:
    """Next-response prediction quality (AUC, RMSE, accuracy) of a fitted model."""
    from readloom.tools.mastery_cli import evaluate_command

    click.echo(json.dumps(evaluate_command(model, data)))


# --- eval -----------------------------------------------------------------------------


@main.command("eval")
@click.option("--suite", "suites", multiple=True, help="Suite to run (repeatable; default: all).")
@click.option("--provider", "providers", help="READLOOM_PROVIDERS for this run, e.g. 'offline'.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--baseline", "baseline_path", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@_clean_errors
def eval_command(
    suites: tuple[str, ...],
    providers: str | None,
    report_path: Path | None,
    baseline_path: Path | None,
) -> None:
    """Run the eval suites; exit 1 when a threshold fails or a metric regresses.

    The harness lives in the checkout's evals/ folder (it is not installed).
    """
    evals_dir = Path(__file__).resolve().parent / "evals"
    if not (evals_dir / "harness.py").exists():
        raise click.ClickException("readloom eval needs a source checkout (evals/ not found)")
    sys.path.insert(0, str(evals_dir))
    from harness import run_eval

    code = run_eval(list(suites) or None, providers, report_path, baseline_path, echo=click.echo)
    sys.exit(code)


def _register_commands() -> None:
    """Commands owned by other folders (serve, keys, lti, report) register themselves."""
    from readloom.agents.grade_cli import register as register_grade
    from readloom.api.cli import register as register_api
    from readloom.api.lti.cli import register as register_lti
    from readloom.mlops.cli import register as register_mlops
    from readloom.observability.cli import register as register_report
    from readloom.storage.cli import register as register_db

    for register in (
        register_api,
        register_lti,
        register_report,
        register_db,
        register_mlops,
        register_grade,
    ):
        register(main)


_register_commands()

if __name__ == "__main__":
    main()
