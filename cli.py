"""The ``readloom`` command: parse options, call the code that owns the work, render.

Domain errors become one clean message and exit code 2; set READLOOM_DEBUG=1 for
tracebacks.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from readloom.errors import ReadloomError
from readloom.settings import configure_offline_environment, get_settings


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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

    return Readloom(get_settings())


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
    from readloom.service import build_services

    items = build_services(get_settings()).store.list(grade=grade)
    if fmt == "json":
        click.echo(json.dumps([p.model_dump(exclude={"text"}) for p in items]))
        return
    for p in items:
        click.echo(f"{p.passage_id:32} grade {p.grade}  {p.genre:13} {p.title}")


# --- questions ------------------------------------------------------------------------


@main.command()
@click.option("--file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--passage-id")
@click.option("--count", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--grade", type=click.IntRange(1, 12), help="Target grade (default: the passage's).")
@click.option("--format", "fmt", type=click.Choice(["json", "md"]), default="md", show_default=True)
@_clean_errors
def questions(
    file: Path | None, passage_id: str | None, count: int, grade: int | None, fmt: str
) -> None:
    """Generate comprehension questions, each with its answer and evidence sentence."""

    async def run() -> Any:
        async with _app() as app:
            pid = _passage_from_options(app, file, passage_id, grade)
            return app.services.store.get(pid), await app.generate_questions(
                passage_id=pid, count=count, grade=grade
            )

    passage, result = asyncio.run(run())
    if fmt == "json":
        payload = {
            "passage_id": result.passage_id,
            "questions": [q.model_dump() for q in result.questions],
            "provenance": result.provenance,
        }
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"# {passage.title} (grade {passage.grade})\n")
    for i, q in enumerate(result.questions, 1):
        click.echo(f"{i}. {q.question}  [{q.type}, {q.skill}]")
        click.echo(f"   Answer: {q.answer}")
        click.echo(f'   Evidence: "{q.evidence}"\n')
    prov = result.provenance
    click.echo(f"_{prov.get('provider')} / {prov.get('model')} / {prov.get('prompt')}_")


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
    from readloom.observability.cli import register as register_report

    for register in (register_api, register_lti, register_report, register_grade):
        register(main)


_register_commands()

if __name__ == "__main__":
    main()
