"""The ``tellakit`` command: the vault, reports, batches and submission from a terminal."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tellakit.errors import TellakitError

if TYPE_CHECKING:
    import pandas as pd

    from tellakit.batch import BatchSummary
    from tellakit.vault import Vault

#: Exit codes (also in ``tellakit --help``).
EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_FATAL = 2

ENV_VAULT = "TELLAKIT_VAULT"
ENV_PASSPHRASE = "TELLAKIT_PASSPHRASE"  # noqa: S105 - the name of a variable, not a secret
ENV_SERVER_PASSWORD = "TELLAKIT_SERVER_PASSWORD"  # noqa: S105 - a variable name

EPILOG = f"""\
exit codes:
  0  success
  1  partial failure: some reports were not submitted, some manifest rows were skipped,
     or the run was interrupted (Ctrl-C pauses uploads; run `tellakit submit --all` again)
  2  fatal error or usage error: nothing more could be done (wrong passphrase, login
     refused, server full, bad manifest in strict mode, bad arguments)

passphrase: asked at a prompt; for unattended runs give --passphrase-file FILE or set
{ENV_PASSPHRASE}. Either puts the key to your evidence on disk or in the environment of
every program you start: use them only on a machine you trust, with the file readable by you
alone, and prefer the prompt otherwise.

vault: --vault DIR, else ${ENV_VAULT}, else ./vault.
"""


class UsageError(Exception):
    """A problem with the command line itself (exit code 2)."""


# --- arguments --------------------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    """Options every vault command takes (so they may follow the subcommand)."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("vault")
    group.add_argument(
        "--vault",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"the vault folder (default: ${ENV_VAULT} or ./vault)",
    )
    group.add_argument(
        "--passphrase-file",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"read the passphrase from this file's first line (else ${ENV_PASSPHRASE}, "
        "else a prompt)",
    )
    return common


def _add(
    sub: Any, name: str, help_text: str, parents: Sequence[argparse.ArgumentParser]
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        parents=list(parents),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; every subcommand has ``--help``."""
    parser = argparse.ArgumentParser(
        prog="tellakit",
        description="Collect evidence into an encrypted vault, write reports, and submit them "
        "to Nextcloud.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = [_common()]
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _add(sub, "init", "create a new vault (asks for a passphrase twice)", common)
    p.add_argument(
        "--work-factor",
        type=int,
        default=None,
        metavar="N",
        help="scrypt cost log2(N) protecting the passphrase (default 18, as age; lower only "
        "for throwaway test vaults)",
    )
    _add(sub, "info", "open the vault and show what it holds and where it submits", common)

    p = _add(
        sub, "connect", "save the Nextcloud connection in the vault (checks the login)", common
    )
    p.add_argument("server_url", help="e.g. https://cloud.example.org")
    p.add_argument("--login", required=True, help="login name (or e-mail) on the server")
    p.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help=f"read the (app) password from this file (else ${ENV_SERVER_PASSWORD}, else a prompt)",
    )
    p.add_argument("--root", default="Tella", help="server folder for reports (default: Tella)")
    p.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow plain http to a host that is not this machine",
    )

    p = _add(sub, "import", "encrypt files into the vault; prints their ids", common)
    p.add_argument("paths", nargs="+", type=Path, help="files to import")
    p.add_argument(
        "--remove-original", action="store_true", help="delete each original after import"
    )

    _add(sub, "files", "list the files in the vault", common)

    p = _add(sub, "report", "create a report from vault files or paths", common)
    p.add_argument("title")
    p.add_argument("--description", default="", help="the report's text")
    p.add_argument(
        "--file",
        dest="files",
        action="append",
        default=[],
        metavar="ID_OR_PATH",
        help="a vault file id, or a path to import (repeat for more)",
    )
    when = p.add_mutually_exclusive_group()
    when.add_argument("--queue", action="store_true", help="put it in the outbox (submit later)")
    when.add_argument("--submit", action="store_true", help="submit it now and wait")

    p = _add(sub, "batch", "create reports from a CSV manifest (title, description, files)", common)
    p.add_argument("manifest", type=Path, help="CSV file; files are paths or globs, ';'-separated")
    p.add_argument(
        "--folder",
        type=Path,
        help="paths in the manifest are relative to this (default: its folder)",
    )
    p.add_argument(
        "--lenient",
        action="store_true",
        help="import the good rows and skip the bad ones (default: any bad row imports nothing)",
    )
    p.add_argument("--check", action="store_true", help="only check the manifest; import nothing")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--queue", action="store_true", help="put the reports in the outbox")
    when.add_argument("--submit", action="store_true", help="submit the reports now and wait")
    _parallel(p)

    p = _add(sub, "submit", "submit reports now and wait until they are done", common)
    p.add_argument("reports", nargs="*", metavar="REPORT_ID", help="report ids")
    p.add_argument("--all", action="store_true", help="every report in the outbox")
    _parallel(p)

    p = _add(
        sub,
        "pause",
        "pause reports in the outbox; an upload running in another process stops within a "
        "second (submit or resume picks them up)",
        common,
    )
    p.add_argument("reports", nargs="+", metavar="REPORT_ID")
    p = _add(sub, "resume", "resume paused or interrupted reports now and wait", common)
    p.add_argument("reports", nargs="+", metavar="REPORT_ID")
    _parallel(p)

    p = _add(sub, "status", "tables of reports: outbox, submitted, drafts, all, or files", common)
    p.add_argument(
        "view",
        nargs="?",
        default="outbox",
        choices=["outbox", "submitted", "drafts", "all", "files"],
    )
    p.add_argument("--csv", metavar="FILE", help="write the table as CSV ('-' for stdout)")

    p = _add(sub, "export", "write a decrypted copy of a vault file", common)
    p.add_argument("file_id", help="vault file id (see `tellakit files`)")
    p.add_argument("dest", type=Path, help="file to write, or an existing folder")

    lab = sub.add_parser(
        "lab",
        help="JupyterLab on the app notebook, with the development server",
        description="JupyterLab on the app notebook, with the development server in-process.",
    )
    lab.add_argument("--port", type=int, default=8888, help="JupyterLab port")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    app = sub.add_parser(
        "app",
        help="the app as a standalone web page (Voilà), with the development server",
        description="The app notebook as a standalone web page (Voilà, no code shown). By "
        "default it starts the development server and connects to it, as `tellakit lab` does; "
        "with --no-devserver it uses the connection saved in the vault.",
    )
    app.add_argument("--port", type=int, default=8866, help="web page port (0: any free one)")
    app.add_argument("--no-browser", action="store_true", help="do not open a browser")
    app.add_argument(
        "--no-devserver",
        action="store_true",
        help="start no development server: use the Nextcloud connection saved in the vault",
    )
    sub.add_parser(
        "devserver",
        help="run the Nextcloud-compatible development server (see tellakit devserver --help)",
        add_help=False,
    )
    return parser


def _parallel(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--parallel", type=int, default=2, metavar="N", help="reports uploaded at once (default 2)"
    )


# --- secrets -----------------------------------------------------------------------------


def _first_line(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return text.splitlines()[0] if text else ""


def _secret(from_file: Path | None, env: str, prompt: str, *, confirm: bool = False) -> str:
    """A secret from a file, else the environment, else the terminal (never echoed)."""
    if from_file is not None:
        value = _first_line(from_file)
    elif os.environ.get(env):
        value = os.environ[env]
    elif sys.stdin.isatty():
        value = getpass.getpass(prompt)
        if confirm and getpass.getpass("Again: ") != value:
            raise UsageError("the two entries differ")
    else:
        raise UsageError(f"no terminal to ask for it: give a file option or set ${env}")
    if not value:
        raise UsageError("empty passphrase or password")
    return value


def _vault_path(args: argparse.Namespace) -> Path:
    return args.vault or Path(os.environ.get(ENV_VAULT, "vault"))


def _open(args: argparse.Namespace) -> Vault:
    from tellakit.vault import open_vault

    passphrase = _secret(args.passphrase_file, ENV_PASSPHRASE, "Vault passphrase: ")
    return open_vault(_vault_path(args), passphrase)


# --- commands ----------------------------------------------------------------------------


def _cmd_init(args: argparse.Namespace) -> int:
    from tellakit.vault import create_vault

    path = _vault_path(args)
    passphrase = _secret(
        args.passphrase_file, ENV_PASSPHRASE, "New vault passphrase: ", confirm=True
    )
    extra = {} if args.work_factor is None else {"work_factor": args.work_factor}
    with create_vault(path, passphrase, **extra) as vault:
        print(f"Created vault {vault.path}")
        print(f"Recipient: {vault.recipient}")
    return EXIT_OK


def _cmd_info(args: argparse.Namespace) -> int:
    from tellakit import summary

    with _open(args) as vault:
        frame = summary.reports(vault)
        files = vault.list_files()
        print(f"Vault: {vault.path}")
        print(f"Recipient: {vault.recipient}")
        print(f"Files: {len(files)} ({_size(sum(f.size for f in files))})")
        counts = frame["status"].value_counts(sort=False)
        print("Reports: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        conn = vault.get_connection()
        if conn is None:
            print("Connection: none (tellakit connect URL --login NAME)")
        else:
            print(f"Connection: {conn.server_url} as {conn.login}, folder {conn.root_folder}")
    return EXIT_OK


def _cmd_connect(args: argparse.Namespace) -> int:
    from tellakit.engine import connect

    with _open(args) as vault:
        password = _secret(args.password_file, ENV_SERVER_PASSWORD, "Server password: ")
        settings = connect(
            vault,
            args.server_url,
            args.login,
            password,
            args.root,
            allow_insecure_http=args.allow_insecure_http,
        )
        print(
            f"Connected to {settings.server_url} as {settings.user_id}; reports go to "
            f"{settings.root_folder}/"
        )
    return EXIT_OK


def _cmd_import(args: argparse.Namespace) -> int:
    with _open(args) as vault:
        for path in args.paths:
            f = vault.import_path(path, remove_original=args.remove_original)
            print(f"{f.id}  {_size(f.size):>9}  {f.name}")
    return EXIT_OK


def _cmd_files(args: argparse.Namespace) -> int:
    with _open(args) as vault:
        for f in vault.list_files():
            print(f"{f.id}  {_size(f.size):>9}  {f.mime:<24}  {f.name}")
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    from tellakit.reports import Status

    with _open(args) as vault:
        known = {f.id for f in vault.list_files()}
        file_ids = [
            item if item in known else vault.import_path(Path(item)).id for item in args.files
        ]
        report = vault.create_report(args.title, args.description, file_ids)
        if args.queue:
            report = vault.set_status(report.id, Status.QUEUED)
        print(f"{report.id}  {report.status.value}  {report.title}")
        if args.submit:
            return _submit_and_report(vault, [report.id], parallel=1)
    return EXIT_OK


def _cmd_batch(args: argparse.Namespace) -> int:
    from tellakit import batch

    manifest = batch.read_manifest(args.manifest, args.folder)
    for row, message in manifest.problems:
        print(f"row {row}: {message}", file=sys.stderr)
    if args.check:
        print(f"{len(manifest.rows)} good row(s), {len(manifest.problems)} problem(s)")
        return EXIT_OK if manifest.ok else EXIT_FATAL
    if manifest.problems and not args.lenient:
        print("Nothing imported (fix the rows above, or use --lenient).", file=sys.stderr)
        return EXIT_FATAL
    with _open(args) as vault:
        result = batch.import_manifest(
            vault, manifest, strict=not args.lenient, outbox=args.queue, progress=True
        )
        print(f"Imported {len(result.ids)} report(s); skipped {len(result.skipped)} row(s).")
        code = EXIT_PARTIAL if result.skipped else EXIT_OK
        if args.submit and result.ids:
            code = max(code, _submit_and_report(vault, result.ids, parallel=args.parallel))
    return code


def _cmd_submit(args: argparse.Namespace) -> int:
    from tellakit.reports import OUTBOX

    if not args.reports and not args.all:
        raise UsageError("name report ids, or use --all for the whole outbox")
    with _open(args) as vault:
        ids = list(args.reports)
        if args.all:
            ids += [r.id for r in vault.list_reports(OUTBOX) if r.id not in ids]
        if not ids:
            print("The outbox is empty.")
            return EXIT_OK
        return _submit_and_report(vault, ids, parallel=args.parallel)


def _cmd_pause(args: argparse.Namespace) -> int:
    from tellakit.reports import Status

    with _open(args) as vault:
        for report_id in args.reports:
            report = vault.set_status(report_id, Status.PAUSED)
            print(f"{report.id}  {report.status.value}  {report.title}")
    return EXIT_OK


def _cmd_resume(args: argparse.Namespace) -> int:
    with _open(args) as vault:
        return _submit_and_report(vault, list(args.reports), parallel=args.parallel)


def _cmd_status(args: argparse.Namespace) -> int:
    from tellakit import summary
    from tellakit.reports import Status

    with _open(args) as vault:
        views: dict[str, Callable[[], pd.DataFrame]] = {
            "outbox": lambda: summary.outbox(vault),
            "submitted": lambda: summary.submitted(vault),
            "drafts": lambda: summary.reports(vault, Status.DRAFT),
            "all": lambda: summary.reports(vault),
            "files": lambda: summary.files(vault),
        }
        frame = views[args.view]()
    if args.csv:
        frame.to_csv(sys.stdout if args.csv == "-" else args.csv, index=False)
        return EXIT_OK
    if frame.empty:
        print(f"No reports ({args.view}).")
        return EXIT_OK
    shown = (
        frame[["report", "name", "size", "state", "bytes_sent", "remote_path"]]
        if args.view == "files"
        else frame[["id", "title", "status", "files", "bytes", "bytes_sent", "reason"]]
    )
    print(shown.to_string(index=False, na_rep="", max_colwidth=40))
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    with _open(args) as vault:
        written = vault.export_file(args.file_id, args.dest)
        print(f"Wrote {written}")
    return EXIT_OK


# --- submitting ----------------------------------------------------------------------


def _submit_and_report(vault: Vault, report_ids: list[str], *, parallel: int) -> int:
    """Submit, print the batch summary, and turn it into an exit code."""
    from tellakit.batch import submit_many

    summary = submit_many(vault, report_ids, max_parallel=parallel, progress=True)
    _print_summary(summary)
    if summary.ok:
        return EXIT_OK
    return EXIT_FATAL if summary.stopped_by else EXIT_PARTIAL


def _print_summary(summary: BatchSummary) -> None:
    print(str(summary))
    for report_id in summary.submitted:
        print(f"  submitted {report_id}")
    for report_id in summary.not_attempted:
        print(f"  not attempted {report_id}")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns


def _exit_code(exc: SystemExit) -> int:
    return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_FATAL)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "init": _cmd_init,
    "info": _cmd_info,
    "connect": _cmd_connect,
    "import": _cmd_import,
    "files": _cmd_files,
    "report": _cmd_report,
    "batch": _cmd_batch,
    "submit": _cmd_submit,
    "pause": _cmd_pause,
    "resume": _cmd_resume,
    "status": _cmd_status,
    "export": _cmd_export,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see ``tellakit --help``)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["devserver"]:
        from tellakit.devserver.cli import main as devserver_main

        try:
            return devserver_main(args_list[1:])
        except SystemExit as exc:  # its argparse: --help or a usage error
            return _exit_code(exc)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse exits 0 for --help and 2 for usage errors
        return _exit_code(exc)
    if args.command == "lab":
        from tellakit.lab import run_lab

        return run_lab(port=args.port, open_browser=not args.no_browser)
    if args.command == "app":
        from tellakit.lab import run_app

        return run_app(
            port=args.port, open_browser=not args.no_browser, devserver=not args.no_devserver
        )
    try:
        return COMMANDS[args.command](args)
    except (TellakitError, UsageError) as exc:
        print(f"tellakit {args.command}: {exc}", file=sys.stderr)
        return EXIT_FATAL
    except OSError as exc:  # a local file: missing, unreadable, already there
        where = f" {exc.filename}" if exc.filename else ""
        print(f"tellakit {args.command}:{where} {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FATAL
    except KeyboardInterrupt:
        print(f"tellakit {args.command}: interrupted", file=sys.stderr)
        return EXIT_PARTIAL


if __name__ == "__main__":
    sys.exit(main())
