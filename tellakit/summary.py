"""pandas views of a vault's reports: what is pending, what went out, and when.

Every frame has fixed columns and dtypes, whatever the vault holds (an empty vault gives an empty
frame with the same columns): strings are pandas' ``string`` dtype, counts and byte sizes are
nullable ``Int64``, timestamps are timezone-aware UTC (``datetime64[us, UTC]``) and statuses are
categoricals that list every status, so ``value_counts()`` shows the empty ones too. Frames
written with ``DataFrame.to_parquet`` read back unchanged with ``pandas.read_parquet``; frames
written with ``DataFrame.to_csv(index=False)`` read back unchanged with :func:`read_csv`.

The builders (:func:`reports_frame`, :func:`files_frame`, :func:`history_frame`) are pure
functions over ``Report`` objects; :func:`reports`, :func:`files`, :func:`outbox`,
:func:`submitted` and :func:`history` read them from an open vault.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from tellakit.reports import OUTBOX, FileState, Report, Status, Verification

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from tellakit.vault import Vault

__all__ = [
    "FILE_COLUMNS",
    "HISTORY_COLUMNS",
    "REPORT_COLUMNS",
    "files",
    "files_frame",
    "history",
    "history_frame",
    "outbox",
    "plot_outbox_bytes",
    "plot_submissions",
    "read_csv",
    "reports",
    "reports_frame",
    "submitted",
    "verification_label",
]

TIMESTAMP = "datetime64[us, UTC]"
STATUS_DTYPE = pd.CategoricalDtype([s.value for s in Status])
FILE_STATE_DTYPE = pd.CategoricalDtype([s.value for s in FileState])
VERIFICATION_DTYPE = pd.CategoricalDtype([v.value for v in Verification])

#: Column name -> dtype of :func:`reports` (one row per report).
REPORT_COLUMNS: dict[str, Any] = {
    "id": "string",
    "title": "string",
    "status": STATUS_DTYPE,
    "reason": "string",
    "created": TIMESTAMP,
    "updated": TIMESTAMP,
    "submitted_at": TIMESTAMP,
    "files": "Int64",
    "bytes": "Int64",
    "bytes_sent": "Int64",
    "remote_path": "string",
    "attempts": "Int64",
    "verification": "string",
}

#: Column name -> dtype of :func:`files` (one row per attachment of a report).
FILE_COLUMNS: dict[str, Any] = {
    "report": "string",
    "name": "string",
    "mime": "string",
    "size": "Int64",
    "sha256": "string",
    "state": FILE_STATE_DTYPE,
    "bytes_sent": "Int64",
    "remote_path": "string",
    "verified": "boolean",
    "verification": VERIFICATION_DTYPE,
}

#: Column name -> dtype of :func:`history` (one row per period, index ``period``).
HISTORY_COLUMNS: dict[str, Any] = {"reports": "Int64", "bytes": "Int64"}

_SCHEMAS = {"reports": REPORT_COLUMNS, "files": FILE_COLUMNS}


# --- pure builders ---------------------------------------------------------------------------


def _frame(columns: dict[str, list[Any]], schema: dict[str, Any]) -> pd.DataFrame:
    """Build a frame column by column, each with its schema dtype (fast: no per-row objects)."""
    data = {}
    for name, dtype in schema.items():
        values = columns[name]
        if dtype == TIMESTAMP:
            # pd.array cannot take tz-aware datetimes plus None into a tz dtype directly.
            data[name] = pd.Series(pd.to_datetime(values, utc=True), dtype=TIMESTAMP)
        elif isinstance(dtype, pd.CategoricalDtype):
            data[name] = pd.Series(pd.Categorical(values, dtype=dtype))
        else:
            data[name] = pd.Series(pd.array(values, dtype=dtype))
    return pd.DataFrame(data)


def verification_label(values: Iterable[str | Verification | None]) -> str | None:
    """How a report's files were verified, in words: the distinct levels, strongest first
    (``"server SHA-256, downloaded and hashed"``); None when no file was checked yet.

    ``"size checked, content not verified"`` appears whenever one file got only that."""
    found = {Verification(v) for v in values if v}
    if not found:
        return None
    return ", ".join(v.label for v in Verification if v in found)


def reports_frame(items: Iterable[Report]) -> pd.DataFrame:
    """One row per report, columns and dtypes as in :data:`REPORT_COLUMNS`.

    ``verification`` says, in words, how its files were found intact on the server (see
    :func:`verification_label`)."""
    cols: dict[str, list[Any]] = {name: [] for name in REPORT_COLUMNS}
    for r in items:
        size = sent = 0
        for a in r.attachments:
            size += a.size
            sent += min(a.bytes_sent, a.size)  # as Report.bytes_sent counts it
        cols["id"].append(r.id)
        cols["title"].append(r.title)
        cols["status"].append(Status(r.status).value)
        cols["reason"].append(r.reason)
        cols["created"].append(r.created_at)
        cols["updated"].append(r.updated_at)
        cols["submitted_at"].append(r.submitted_at)
        cols["files"].append(len(r.attachments))
        cols["bytes"].append(size)
        cols["bytes_sent"].append(sent)
        cols["remote_path"].append(r.remote_folder)
        cols["attempts"].append(r.attempts)
        cols["verification"].append(verification_label(a.verification for a in r.attachments))
    return _frame(cols, REPORT_COLUMNS)


def files_frame(items: Iterable[Report]) -> pd.DataFrame:
    """One row per attachment, in report then attachment order (:data:`FILE_COLUMNS`).

    ``verified`` is True only when the file's content was verified on a SHA-256 the server
    computed (or of a download); ``verification`` says how (``size_only``: its size only)."""
    cols: dict[str, list[Any]] = {name: [] for name in FILE_COLUMNS}
    for r in items:
        for a in sorted(r.attachments, key=lambda a: a.position):
            state = FileState(a.state)
            cols["report"].append(r.id)
            cols["name"].append(a.name)
            cols["mime"].append(a.mime)
            cols["size"].append(a.size)
            cols["sha256"].append(a.sha256)
            cols["state"].append(state.value)
            cols["bytes_sent"].append(a.bytes_sent)
            cols["remote_path"].append(a.remote_path)
            cols["verified"].append(state is FileState.VERIFIED)
            cols["verification"].append(
                None if a.verification is None else Verification(a.verification).value
            )
    return _frame(cols, FILE_COLUMNS)


def history_frame(reports_df: pd.DataFrame, freq: str = "D") -> pd.DataFrame:
    """Reports and bytes submitted per period, from a :func:`reports_frame` frame.

    The index (``period``, UTC) runs from the first to the last period with a submission, with
    zero rows for the quiet periods in between, so a plot shows the gaps.
    """
    done = reports_df[reports_df["submitted_at"].notna()]
    if done.empty:
        empty = pd.DatetimeIndex([], dtype=TIMESTAMP, name="period")
        return pd.DataFrame(
            {name: pd.array([], dtype=dtype) for name, dtype in HISTORY_COLUMNS.items()},
            index=empty,
        )
    per = done.set_index("submitted_at").resample(freq)
    out = pd.DataFrame({"reports": per["id"].count(), "bytes": per["bytes"].sum()})
    out.index.name = "period"
    return out.astype(HISTORY_COLUMNS)


# --- views of a vault --------------------------------------------------------------------


#: REPORT_COLUMNS in the order of the fields of ``Vault.report_rows`` tuples.
_ROW_COLUMNS = (
    "id",
    "title",
    "status",
    "reason",
    "created",
    "updated",
    "submitted_at",
    "files",
    "bytes",
    "bytes_sent",
    "remote_path",
    "attempts",
    "verification",
)


def _rows_frame(rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """The :func:`reports_frame` of ``Vault.report_rows`` tuples (no Report objects)."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in _ROW_COLUMNS]
    cols: dict[str, Any] = {
        name: list(col) for name, col in zip(_ROW_COLUMNS, columns, strict=True)
    }
    for name in ("created", "updated", "submitted_at"):
        # ISO 8601 strings as the index stores them: parsed in one vectorised pass.
        cols[name] = pd.to_datetime(cols[name], utc=True, format="ISO8601")
    # GROUP_CONCAT(DISTINCT ...) of the files' levels, in words (few distinct values: cached).
    labels: dict[str | None, str | None] = {}
    cols["verification"] = [
        labels[v] if v in labels else labels.setdefault(v, _levels_label(v))
        for v in cols["verification"]
    ]
    return _frame(cols, REPORT_COLUMNS)


def _levels_label(concatenated: str | None) -> str | None:
    return verification_label((concatenated or "").split(","))


def reports(vault: Vault, status: Status | Iterable[Status] | None = None) -> pd.DataFrame:
    """Every report in ``vault`` (newest first), or only those with the given status(es).

    Read with ``Vault.report_rows`` (one aggregate query, no Report objects), so 10,000
    reports take a fraction of a second; the frame is the one :func:`reports_frame` builds.
    """
    return _rows_frame(vault.report_rows(status))


def files(vault: Vault, status: Status | Iterable[Status] | None = None) -> pd.DataFrame:
    """Every attachment of every report (or of reports with the given status(es))."""
    return files_frame(vault.list_reports(status))


def outbox(vault: Vault) -> pd.DataFrame:
    """Reports in the outbox: queued, uploading, paused or interrupted."""
    return reports(vault, OUTBOX)


def submitted(vault: Vault) -> pd.DataFrame:
    """Reports that reached the server and were checked there; ``verification`` says how."""
    return reports(vault, Status.SUBMITTED)


def history(vault: Vault, freq: str = "D") -> pd.DataFrame:
    """Reports and bytes submitted per period (``freq`` is a pandas offset alias: D, W, MS...)."""
    return history_frame(submitted(vault), freq)


# --- files on disk -----------------------------------------------------------------------


def read_csv(path: str | Path | Any, kind: Literal["reports", "files"] = "reports") -> pd.DataFrame:
    """Read a frame written with ``to_csv(index=False)`` back with its original dtypes.

    ``kind`` says which view it was. Only empty cells count as missing, so a title that reads
    "NA" or "null" stays text.
    """
    schema = _SCHEMAS[kind]
    stamps = [name for name, dtype in schema.items() if dtype == TIMESTAMP]
    plain = {name: dtype for name, dtype in schema.items() if dtype != TIMESTAMP}
    frame = pd.read_csv(path, dtype=plain, keep_default_na=False, na_values=[""])
    for name in stamps:
        frame[name] = pd.Series(pd.to_datetime(frame[name], utc=True), dtype=TIMESTAMP)
    return frame[list(schema)]


# --- plots (matplotlib: the optional extra ``tellakit[plot]``) --------------------------


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError("Plots need matplotlib: pip install 'tellakit[plot]'") from exc
    return plt


def plot_submissions(history_df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Bars of reports submitted per period, with the megabytes sent on a second axis."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    assert ax is not None
    stamps = history_df.index
    daily = all(ts == ts.normalize() for ts in stamps)  # show the time only when periods need it
    labels = [ts.strftime("%Y-%m-%d" if daily else "%Y-%m-%d %H:%M") for ts in stamps]
    positions = list(range(len(labels)))
    ax.bar(positions, history_df["reports"].to_numpy(dtype=float), color="#4c72b0")
    ax.set_ylabel("reports submitted")
    ax.set_xticks(positions, labels, rotation=45, ha="right")
    mib = ax.twinx()
    mib.plot(
        positions, history_df["bytes"].to_numpy(dtype=float) / 2**20, color="#dd8452", marker="o"
    )
    mib.set_ylabel("MiB submitted")
    mib.set_ylim(bottom=0)
    ax.set_title("Submissions over time")
    return ax


def plot_outbox_bytes(outbox_df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Stacked bars per outbox state: bytes already on the server and bytes still to send."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    assert ax is not None
    states = [s.value for s in Status if s in OUTBOX]
    by_state = (
        outbox_df.groupby("status", observed=False)[["bytes", "bytes_sent"]]
        .sum()
        .reindex(states, fill_value=0)
    )
    sent = by_state["bytes_sent"].to_numpy(dtype=float) / 2**20
    todo = (by_state["bytes"] - by_state["bytes_sent"]).to_numpy(dtype=float) / 2**20
    ax.bar(states, sent, label="sent", color="#55a868")
    ax.bar(states, todo, bottom=sent, label="to send", color="#c44e52")
    ax.set_ylabel("MiB")
    ax.set_title("Outbox bytes by state")
    ax.legend()
    return ax
