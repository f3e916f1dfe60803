"""Many reports at once: from a manifest (CSV file or DataFrame) into the vault, then out.

A manifest has one row per report and the columns ``title`` (required), ``description``
(optional) and ``files`` (optional): paths or glob patterns relative to a folder, separated by
``;`` or new lines, e.g. ``photos/site-a/*.jpg; notes/site-a.pdf``.

1. :func:`read_manifest` checks every row before anything is imported and lists every bad row
   with its number (empty title, a path that is missing, unreadable or a folder, a pattern that
   matches nothing, a duplicate of an earlier row). Row numbers are the ones a spreadsheet shows
   for a CSV file (the header is row 1) and the index labels for a DataFrame.
2. :func:`import_manifest` turns the good rows into draft reports (or straight into the
   outbox). Strict (the default): a manifest with any bad row imports nothing and raises
   :class:`~tellakit.errors.ManifestError`. Lenient: the good rows only. Either way a report is
   never half-imported: a row's files are imported first, then its report is created, and on any
   failure the files just imported are deleted again.
3. :func:`submit_many` sends reports through the engine with a bounded number of parallel
   uploads and one overall progress bar; the engine's retry policy retries what can be
   retried, a login or storage error stops the batch, and a :class:`BatchSummary` says what
   was and was not sent.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tellakit.console import progress_bar
from tellakit.engine import ProgressEvent, RetryPolicy, SettledEvent, Submitter
from tellakit.errors import ManifestError, TellakitError
from tellakit.reports import OUTBOX, SETTLED, Report, Status

if TYPE_CHECKING:
    import pandas as pd

    from tellakit.vault import Vault

__all__ = [
    "BatchInterrupted",
    "BatchSummary",
    "ImportResult",
    "Manifest",
    "ManifestRow",
    "import_manifest",
    "read_manifest",
    "submit_many",
]

_SEPARATORS = (";", "\n")
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class ManifestRow:
    """One good row: the report to create and the files (absolute paths, in order) to attach."""

    row: int
    title: str
    description: str
    files: tuple[Path, ...]


@dataclass(frozen=True)
class Manifest:
    """A checked manifest: the good rows, and (row number, message) for every bad one."""

    rows: tuple[ManifestRow, ...]
    problems: tuple[tuple[int, str], ...]
    folder: Path

    @property
    def ok(self) -> bool:
        """True when every row is good."""
        return not self.problems

    @property
    def bytes(self) -> int:
        """Total size of the files the good rows would import."""
        return sum(p.stat().st_size for row in self.rows for p in row.files)

    def raise_for_problems(self) -> None:
        """Raise :class:`ManifestError` listing every bad row, if there is one."""
        if self.problems:
            raise ManifestError(list(self.problems))


# --- reading and checking (no vault involved) ------------------------------------------------


def _rows_from_csv(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Header and (spreadsheet row number, record) pairs; quoted fields may span lines."""
    text = path.read_text(encoding="utf-8-sig")  # utf-8-sig: spreadsheets often write a BOM
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    reader.fieldnames = header

    def records() -> Iterator[tuple[int, dict[str, str]]]:
        # A spreadsheet shows one row per record; line numbers would drift on multi-line cells.
        for number, record in enumerate(reader, start=2):
            yield number, {k: (v or "") for k, v in record.items() if k is not None}

    return header, records()


def _rows_from_frame(frame: pd.DataFrame) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    header = [str(c).strip().lower() for c in frame.columns]
    integer_index = frame.index.inferred_type == "integer"

    def records() -> Iterator[tuple[int, dict[str, str]]]:
        for position, (label, values) in enumerate(
            zip(frame.index, frame.itertuples(index=False), strict=True)
        ):
            number = int(label) if integer_index else position + 1
            yield number, {h: _cell(v) for h, v in zip(header, values, strict=True)}

    return header, records()


def _cell(value: Any) -> str:
    """A DataFrame cell as text; NaN/None/NA are empty."""
    if value is None:
        return ""
    try:
        if value != value:  # NaN, and pandas.NA raises TypeError below
            return ""
    except TypeError:
        return ""
    return str(value)


def _split_files(cell: str) -> list[str]:
    items = [cell]
    for sep in _SEPARATORS:
        items = [part for item in items for part in item.split(sep)]
    return [item.strip() for item in items if item.strip()]


def _readable(path: Path) -> str | None:
    """None when ``path`` is a readable regular file, else why not."""
    try:
        with path.open("rb"):
            pass
    except IsADirectoryError:
        return "is a folder, not a file (use a pattern such as 'folder/*')"
    except PermissionError:
        return "cannot be read (permission denied)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not path.is_file():
        return "is not a regular file"
    return None


def _resolve(spec: str, folder: Path) -> tuple[list[Path], list[str]]:
    """Files named by one path or glob pattern, and the problems found with them."""
    candidate = Path(os.path.expanduser(spec))
    base = candidate if candidate.is_absolute() else folder / candidate
    if _GLOB_CHARS & set(spec):
        matches = sorted(Path(m) for m in glob.glob(str(base), recursive=True))
        found = [m for m in matches if m.is_file()]
        if not found:
            return [], [f"no file matches {spec!r}"]
        problems = [f"{m} {why}" for m in found if (why := _readable(m))]
        return found, problems
    if not os.path.lexists(base):
        return [], [f"file not found: {spec!r}"]
    why = _readable(base)
    return [base], ([f"{spec!r} {why}"] if why else [])


def read_manifest(
    source: str | Path | pd.DataFrame,
    folder: str | Path | None = None,
) -> Manifest:
    """Read and check a manifest without importing anything.

    ``source`` is a CSV file or a DataFrame with the columns ``title``, ``description`` and
    ``files``. Paths are relative to ``folder`` (by default the CSV file's folder, or the current
    folder for a DataFrame). Returns a :class:`Manifest` with the good rows and every problem;
    raises :class:`ManifestError` only when the manifest as a whole is unusable (no ``title``
    column, or a CSV file that cannot be read).
    """
    if isinstance(source, (str, Path)):
        csv_path = Path(source)
        base = Path(folder) if folder is not None else csv_path.parent
        try:
            header, records = _rows_from_csv(csv_path)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ManifestError([(0, f"cannot read {csv_path}: {exc}")]) from exc
    else:
        base = Path(folder) if folder is not None else Path.cwd()
        header, records = _rows_from_frame(source)
    if "title" not in header:
        raise ManifestError([(1, f"no 'title' column (columns: {', '.join(header) or 'none'})")])
    base = base.resolve()

    rows: list[ManifestRow] = []
    problems: list[tuple[int, str]] = []
    seen: dict[tuple[str, str, tuple[Path, ...]], int] = {}
    for number, record in records:
        title = record.get("title", "").strip()
        description = record.get("description", "").strip()
        row_problems = [] if title else ["empty title"]
        paths: list[Path] = []
        for spec in _split_files(record.get("files", "")):
            found, why = _resolve(spec, base)
            row_problems.extend(why)
            paths.extend(p for p in found if p not in paths)
        key = (title, description, tuple(paths))
        if not row_problems and key in seen:
            row_problems.append(f"duplicate of row {seen[key]}")
        problems.extend((number, msg) for msg in row_problems)
        if not row_problems:
            seen[key] = number
            rows.append(ManifestRow(number, title, description, tuple(paths)))
    return Manifest(tuple(rows), tuple(problems), base)


# --- importing into a vault -----------------------------------------------------------------


@dataclass
class ImportResult:
    """What :func:`import_manifest` did: report id per imported row, and the rows it skipped."""

    report_ids: dict[int, str] = field(default_factory=dict)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        """The new reports' ids, in manifest order."""
        return list(self.report_ids.values())


def _import_row(vault: Vault, row: ManifestRow, outbox: bool) -> Report:
    """Import one row's files, then create its report; undo the files on any failure."""
    file_ids: list[str] = []
    report = None
    try:
        for path in row.files:
            file_ids.append(vault.import_path(path).id)
        report = vault.create_report(row.title, row.description, file_ids)
        if outbox:
            report = vault.set_status(report.id, Status.QUEUED)
    except BaseException:
        if report is not None:
            _quietly(vault.delete_report, report.id)
        for file_id in file_ids:
            _quietly(vault.delete_file, file_id)
        raise
    return report


def _quietly(action: Any, *args: Any) -> None:
    """Clean-up that must not hide the error that made it necessary."""
    with contextlib.suppress(TellakitError, OSError):
        action(*args)


def import_manifest(
    vault: Vault,
    manifest: Manifest | str | Path | pd.DataFrame,
    *,
    folder: str | Path | None = None,
    strict: bool = True,
    outbox: bool = False,
    progress: bool = False,
) -> ImportResult:
    """Create one report per good manifest row (drafts, or queued in the outbox).

    Strict: any bad row raises :class:`ManifestError` before anything is imported, and if an
    import fails midway (a file vanished, the disk is full) every report created so far is
    removed again before the error is raised. Lenient (``strict=False``): bad rows, and rows
    whose import fails, are listed in ``ImportResult.skipped`` and the rest are imported.
    """
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest, folder)
    if strict:
        manifest.raise_for_problems()
    result = ImportResult(skipped=list(manifest.problems))
    bar = progress_bar(len(manifest.rows), "reports", "import", enabled=progress)
    try:
        for row in manifest.rows:
            try:
                report = _import_row(vault, row, outbox)
            except (TellakitError, OSError) as exc:
                if strict:
                    raise ManifestError([(row.row, f"import failed: {exc}")]) from exc
                result.skipped.append((row.row, f"import failed: {exc}"))
            else:
                result.report_ids[row.row] = report.id
            bar.update(1)
    except BaseException:
        if strict:  # all or nothing, also on Ctrl-C
            for report_id in result.report_ids.values():
                _delete_report_and_files(vault, report_id)
        raise
    finally:
        bar.close()
    result.skipped.sort()
    return result


def _delete_report_and_files(vault: Vault, report_id: str) -> None:
    try:
        report = vault.get_report(report_id)
    except TellakitError:
        return
    _quietly(vault.delete_report, report_id)
    for attachment in report.attachments:
        _quietly(vault.delete_file, attachment.file_id)


# --- submitting many ----------------------------------------------------------------------


@dataclass
class BatchSummary:
    """What a batch sent: ``submitted`` ids, ``failed`` id -> reason, ``not_attempted`` ids.

    ``stopped_by`` is the fatal error that stopped the batch (None when it ran to the end).
    Not attempted: the batch stopped before it started that report, so nothing of it was sent
    and it keeps the state it had (draft or outbox); submit it again later.
    """

    submitted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    not_attempted: list[str] = field(default_factory=list)
    stopped_by: str | None = None

    @property
    def ok(self) -> bool:
        """True when every report was submitted."""
        return not self.failed and not self.not_attempted and self.stopped_by is None

    def __str__(self) -> str:
        lines = [
            f"{len(self.submitted)} submitted, {len(self.failed)} failed, "
            f"{len(self.not_attempted)} not attempted"
        ]
        if self.stopped_by:
            lines.append(f"stopped: {self.stopped_by}")
        lines.extend(f"  failed {rid}: {why}" for rid, why in self.failed.items())
        return "\n".join(lines)


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`submit_many`: the reports on their way were paused (``paused``
    lists them; resume continues each where it stopped)."""

    def __init__(self, paused: list[str]) -> None:
        super().__init__(f"interrupted; {len(paused)} report(s) paused")
        self.paused = paused


def batch_policy(
    retry: RetryPolicy | None = None,
    *,
    max_attempts: int | None = None,
    retry_delay: float | None = None,
) -> RetryPolicy:
    """The retry policy of a batch: ``retry`` (default: automatic retry on, as batches run
    unattended), with ``max_attempts`` tries in a row without progress and ``retry_delay``
    as the first wait, when given."""
    policy = retry or RetryPolicy(auto=True)
    if max_attempts is not None:
        policy = replace(policy, retries_without_progress=max(0, max_attempts - 1))
    if retry_delay is not None:
        policy = replace(
            policy,
            backoff=replace(policy.backoff, base=retry_delay),
            restart_after_progress=min(policy.restart_after_progress, retry_delay),
        )
    return policy


def submit_many(
    vault: Vault,
    report_ids: Sequence[str] | None = None,
    *,
    submitter: Submitter | None = None,
    max_parallel: int = 2,
    retry: RetryPolicy | None = None,
    max_attempts: int | None = None,
    retry_delay: float | None = None,
    progress: bool = True,
    timeout: float | None = None,
) -> BatchSummary:
    """Submit ``report_ids`` (default: the whole outbox, oldest first) and wait for the end.

    At most ``max_parallel`` reports are handed to the engine at a time (the vault's
    :class:`~tellakit.engine.Submitter`, shared with a view when one is open, or your own
    ``submitter``). Retrying follows the engine's one retry policy
    (:class:`~tellakit.engine.RetryPolicy`), here with automatic retry on unless ``retry``
    says otherwise: a report stopped by a retryable error is sent again, resuming where it
    stopped, so nothing is sent twice; ``max_attempts`` and ``retry_delay`` set its tries in a
    row without progress and its first wait. A report waiting for its next try does not hold
    a place among the ``max_parallel``. A login or storage error (the next reports would meet
    it too) stops the batch: reports already on their way finish, none is started after it;
    any other fatal error (a refused name, a failed verification) fails its report alone. The
    returned :class:`BatchSummary` says what went out, what failed and why, and what was not
    attempted (those keep their state). ``progress`` shows one bar for the whole batch
    (``tqdm.auto``: a widget in notebooks, text in terminals). Ctrl-C pauses the reports on
    their way and raises :class:`BatchInterrupted` (a ``KeyboardInterrupt``).
    """
    if report_ids is None:
        outbox_reports = sorted(vault.list_reports(OUTBOX), key=lambda r: r.created_at)
        report_ids = [r.id for r in outbox_reports]
    policy = batch_policy(retry, max_attempts=max_attempts, retry_delay=retry_delay)
    run = _BatchRun(vault, _ids(report_ids), max_parallel, policy)
    with contextlib.ExitStack() as stack:
        if submitter is None:
            submitter = stack.enter_context(
                Submitter.shared(vault, max_parallel_reports=max_parallel, retry=policy)
            )
        stack.callback(submitter.subscribe(run.on_event))
        bar = stack.enter_context(progress_bar(run.total_bytes, "B", "submit", enabled=progress))
        try:
            run.drive(submitter, bar, timeout)
        except KeyboardInterrupt:
            paused = run.pause_all(submitter)
            raise BatchInterrupted(paused) from None
    return run.summary()


#: How many looks at an idle, unsettled report before its record is taken as its end (a
#: settled event that never came, e.g. another process took the report over).
_LOOKS_BEFORE_READING = 25


class _BatchRun:
    """Book-keeping of one :func:`submit_many` call (main thread, plus events from workers)."""

    def __init__(
        self, vault: Vault, report_ids: list[str], max_parallel: int, policy: RetryPolicy
    ) -> None:
        import queue

        self.vault = vault
        self.ids = report_ids
        self.window = max(1, max_parallel)
        self.policy = policy
        self.reports = {rid: vault.get_report(rid) for rid in report_ids}
        self.total_bytes = sum(r.total_bytes for r in self.reports.values())
        self.waiting = list(report_ids)  # not yet handed to the engine, in order
        self.in_flight: set[str] = set()  # handed over, not settled
        self.started: set[str] = set()
        self.looks: dict[str, int] = {}
        self.sent_bytes = {rid: r.bytes_sent for rid, r in self.reports.items()}
        self.done: list[str] = []
        self.failed: dict[str, str] = {}
        self.stopped_by: str | None = None
        self.settled: queue.Queue[SettledEvent] = queue.Queue()

    # worker threads: keep it tiny, no vault calls
    def on_event(self, event: ProgressEvent) -> None:
        if event.report_id not in self.sent_bytes:
            return
        self.sent_bytes[event.report_id] = event.report_bytes_sent
        if isinstance(event, SettledEvent):
            self.settled.put(event)

    def drive(self, submitter: Submitter, bar: Any, timeout: float | None) -> None:
        import queue
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        for rid, report in self.reports.items():
            if report.status is Status.SUBMITTED:  # nothing to send
                self.waiting.remove(rid)
                self.done.append(rid)
        while (self.waiting and self.stopped_by is None) or self.in_flight:
            if deadline is not None and time.monotonic() > deadline:
                self._give_up(submitter, f"timed out after {timeout:g} s")
                break
            self._dispatch(submitter)
            with contextlib.suppress(queue.Empty):
                self._settle(self.settled.get(timeout=0.2))
                while True:
                    self._settle(self.settled.get_nowait())
            self._look(submitter)
            self._show(bar)
        self._show(bar)

    def _dispatch(self, submitter: Submitter) -> None:
        # Reports waiting for their next try hold no place: only those the engine works on.
        working = sum(1 for rid in self.in_flight if not submitter.wait(rid, timeout=0))
        free = self.window - working
        while free > 0 and self.waiting and self.stopped_by is None:
            rid = self.waiting.pop(0)
            self.started.add(rid)
            try:
                submitter.submit(rid, retry=self.policy)
            except TellakitError as exc:  # e.g. deleted meanwhile, or a transition refused
                self.failed[rid] = str(exc)
                continue
            self.in_flight.add(rid)
            free -= 1

    def _settle(self, event: SettledEvent) -> None:
        rid = event.report_id
        if rid not in self.in_flight:
            return  # an end from before this batch handed it over
        self.in_flight.discard(rid)
        self.looks.pop(rid, None)
        if event.state is Status.SUBMITTED:
            self.done.append(rid)
            self.sent_bytes[rid] = event.report_total
            self.failed.pop(rid, None)
        elif event.state is Status.PAUSED:
            self.failed[rid] = "paused while the batch ran"
        else:
            reason = event.reason or event.state.value
            self.failed[rid] = reason
            if event.stops_batch and self.stopped_by is None:
                self.stopped_by = reason

    def _look(self, submitter: Submitter) -> None:
        """Settle from the vault's record a report that rests without its settled event."""
        for rid in list(self.in_flight):
            if not submitter.wait(rid, timeout=0, until="settled"):
                self.looks.pop(rid, None)
                continue
            self.looks[rid] = self.looks.get(rid, 0) + 1
            if self.looks[rid] < _LOOKS_BEFORE_READING:
                continue
            report = self.vault.get_report(rid)
            reason = report.reason
            if report.status not in SETTLED:
                reason = "the engine stopped without recording a result"
            self._settle(
                SettledEvent(
                    report_id=rid,
                    state=report.status,
                    report_total=report.total_bytes,
                    reason=reason,
                    retryable=report.retryable,
                )
            )

    def pause_all(self, submitter: Submitter) -> list[str]:
        """Pause the reports on their way (Ctrl-C, or the batch timed out); their ids."""
        paused = []
        for rid in sorted(self.in_flight):
            with contextlib.suppress(TellakitError):
                submitter.pause(rid)
                paused.append(rid)
        return paused

    def _give_up(self, submitter: Submitter, why: str) -> None:
        for rid in self.pause_all(submitter):
            self.failed[rid] = why
        self.in_flight.clear()
        self.stopped_by = why

    def _show(self, bar: Any) -> None:
        sent = min(sum(self.sent_bytes.values()), self.total_bytes)
        bar.update(sent - bar.n)
        bar.set_postfix_str(
            f"{len(self.done)}/{len(self.ids)} reports"
            + (f", {len(self.failed)} failed" if self.failed else ""),
            refresh=False,
        )

    def summary(self) -> BatchSummary:
        started = self.started | set(self.done)
        return BatchSummary(
            submitted=[rid for rid in self.ids if rid in self.done],
            failed={rid: self.failed[rid] for rid in self.ids if rid in self.failed},
            not_attempted=[rid for rid in self.ids if rid not in started],
            stopped_by=self.stopped_by,
        )


def _ids(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
