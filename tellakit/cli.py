"""The ``tellakit`` command: the vault, reports, batches and submission from a terminal."""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tellakit.errors import TellakitError

if TYPE_CHECKING:
    import pandas as pd

    from tellakit.batch import BatchSummary
    from tellakit.engine import RetryPolicy
    from tellakit.vault import Vault

#: Exit codes (also in ``tellakit --help``).
EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_FATAL = 2

ENV_VAULT = "TELLAKIT_VAULT"
ENV_PASSPHRASE = "TELLAKIT_PASSPHRASE"  # noqa: S105 - the name of a variable, not a secret
ENV_SERVER_PASSWORD = "TELLAKIT_SERVER_PASSWORD"  # noqa: S105 - a variable name
ENV_NEW_PASSPHRASE = "TELLAKIT_NEW_PASSPHRASE"  # noqa: S105 - a variable name
ENV_ORG_PASSPHRASE = "TELLAKIT_ORG_PASSPHRASE"  # noqa: S105 - a variable name

EPILOG = f"""\
exit codes:
  0  success
  1  partial failure: some reports were not submitted, some manifest rows were skipped,
     or the run was interrupted (Ctrl-C pauses uploads; `tellakit resume ID...` or
     `tellakit submit --all` continues them where they stopped)
  2  fatal error or usage error: nothing more could be done (wrong passphrase, login
     refused, server full, bad manifest in strict mode, bad arguments)

passphrase: asked at a prompt; for unattended runs give --passphrase-file FILE or set
{ENV_PASSPHRASE}. Either puts the key to your evidence on disk or in the environment of
every program you start: use them only on a machine you trust, with the file readable by you
alone, and prefer the prompt otherwise.

vault: --vault DIR, else ${ENV_VAULT}, else ./vault.

retries: submit, resume, batch --submit and report --submit retry on their own when the
connection drops or the server is unavailable (made for unattended runs): quickly after an
attempt that got something through, with growing waits (up to 60 s) after attempts that did
not, probing the server while it does not answer. They stop at once on a refused login or a
full server, after 8 tries in a row without progress, or after --give-up-after without
progress (default 1h); --no-retry stops at the first error.
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
    p = _add(
        sub,
        "info",
        "open the vault and show what it holds and where it submits; warns if its files are "
        "readable by other users, and about files its index does not list",
        common,
    )
    p.add_argument(
        "--fix-permissions",
        action="store_true",
        help="make the vault private (folders 0700, files 0600) without asking",
    )

    p = _add(
        sub,
        "recover",
        "re-index the files in blobs/ that index.db does not list, as recovered-<n> (with size "
        "and SHA-256); if index.db is missing or unusable, start a new one first (the old "
        "file is kept beside it)",
        common,
    )
    p.add_argument(
        "--set-aside",
        nargs="?",
        const="",
        default=None,
        metavar="DIR",
        help="move those files out of blobs/ instead (into DIR, default <vault>/set-aside)",
    )

    p = _add(
        sub,
        "rekey",
        "give the vault a new key and passphrase: every file re-wrapped (not re-encrypted), "
        "the index re-keyed, the old identity.age overwritten; for when an old passphrase or "
        "a copy of identity.age may be known. Close the vault everywhere else first",
        common,
    )
    p.add_argument(
        "--new-passphrase-file",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"read the new passphrase from this file (else ${ENV_NEW_PASSPHRASE}, else a "
        "prompt, twice)",
    )

    p = _add(
        sub,
        "destroy",
        "quick delete: overwrite the vault's identity (everything becomes unreadable at once), "
        "then remove its files; needs no passphrase; the server is not touched. Asks you to "
        "type the vault folder's name",
        common,
    )
    p.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=None,
        help=f"the vault folder (default: --vault, ${ENV_VAULT} or ./vault)",
    )
    p.add_argument("--yes", action="store_true", help="do not ask (for scripts)")

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
    p.add_argument(
        "--encrypt-to",
        action="append",
        default=[],
        metavar="RECIPIENT",
        help="seal reports to this age recipient (age1... or 'ssh-ed25519 AAAA...') so the "
        "server's host cannot read them; repeat for more (see docs/server-layout.md)",
    )
    p.add_argument(
        "--readable-names",
        action="store_true",
        help="with --encrypt-to: report folders keep their titles as names",
    )
    p.add_argument(
        "--without-digest",
        choices=["download", "size-only"],
        default="download",
        help="when the server computes no SHA-256 of a file: download it back and hash it "
        "(default; its bytes cross the link twice) or check its size only (then shown as "
        "'size checked, content not verified')",
    )

    p = _add(
        sub,
        "encrypt-to",
        "seal reports queued from now on to these age recipients (none: show the setting)",
        common,
    )
    p.add_argument("recipients", nargs="*", metavar="RECIPIENT", help="age1... or ssh-ed25519")
    p.add_argument(
        "--off", action="store_true", help="write reports queued from now on in clear again"
    )
    p.add_argument(
        "--readable-names",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="sealed report folders keep their titles as names (--no-readable-names: not)",
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
    _retry_flags(p)

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
    _retry_flags(p)

    p = _add(sub, "submit", "submit reports now and wait until they are done", common)
    p.add_argument("reports", nargs="*", metavar="REPORT_ID", help="report ids")
    p.add_argument("--all", action="store_true", help="every report in the outbox")
    _parallel(p)
    _retry_flags(p)

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
    _retry_flags(p)

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

    _org_parsers(sub)

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


ORG_EPILOG = f"""\
exit codes:
  0  success (org pull: every new report verified, or still waiting for its manifest)
  1  org pull: some reports failed (the table says why); the others were pulled
  2  fatal error or usage error (login refused, wrong passphrase, bad arguments)

server password: ${ENV_SERVER_PASSWORD}, --password-file FILE, else a prompt.
identity passphrase: ${ENV_ORG_PASSPHRASE}, --passphrase-file FILE, else a prompt.
"""


def _org_parsers(sub: Any) -> None:
    """``tellakit org keygen`` and ``tellakit org pull``: the organization's side."""
    org = sub.add_parser(
        "org",
        help="the organization's side of sealed reports: its key, and pulling reports home",
        description="The organization's side of sealed reports (docs/server-layout.md).",
    )
    org_sub = org.add_subparsers(dest="org_command", required=True, metavar="ORG_COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        return org_sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=ORG_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add("keygen", "write a new organization identity and print its recipient")
    p.add_argument("out", type=Path, help="the identity file to write (never overwritten)")
    p.add_argument(
        "--no-passphrase",
        action="store_true",
        help="write the identity in clear (keep such a file offline)",
    )
    p.add_argument(
        "--passphrase-file", type=Path, metavar="FILE", help="read the new passphrase from FILE"
    )
    p.add_argument("--work-factor", type=int, default=None, help=argparse.SUPPRESS)

    p = add(
        "pull",
        "download new reports from Nextcloud, decrypt and verify them into DEST/<date> <title>/",
    )
    p.add_argument("server_url", help="e.g. https://cloud.example.org")
    p.add_argument("dest", type=Path, help="the folder reports are written to")
    p.add_argument("--login", required=True, help="login name on the server")
    p.add_argument("--root", default="Tella", help="the server folder reports are in")
    p.add_argument("--identity", required=True, type=Path, help="the organization's identity file")
    p.add_argument(
        "--password-file", type=Path, metavar="FILE", help="read the (app) password from FILE"
    )
    p.add_argument(
        "--passphrase-file",
        type=Path,
        metavar="FILE",
        help="read the identity's passphrase from FILE",
    )
    p.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow plain http to a host that is not this machine",
    )


def _parallel(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--parallel", type=int, default=2, metavar="N", help="reports uploaded at once (default 2)"
    )


def _retry_flags(p: argparse.ArgumentParser) -> None:
    """The retry options of every command that submits (see "retries" below)."""
    p.add_argument(
        "--no-retry",
        action="store_true",
        help="do not retry automatically: a report stopped by an error stays in the outbox",
    )
    p.add_argument(
        "--give-up-after",
        type=_duration,
        default=DEFAULT_GIVE_UP,
        metavar="DURATION",
        help="stop retrying a report after this long without progress, e.g. 90s, 30m, 2h, "
        "1h30m (default 1h)",
    )


DEFAULT_GIVE_UP = 3600.0
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(d|h|min|m|s)?")
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "min": 60.0, "m": 60.0, "s": 1.0, None: 1.0}


def _duration(text: str) -> float:
    """``"90s"``, ``"30m"``, ``"2h"``, ``"1h30m"``, ``"45"`` (seconds) -> seconds."""
    spec = text.strip().replace(" ", "").lower()
    parts = list(_DURATION_PART.finditer(spec))
    if not parts or "".join(m.group(0) for m in parts) != spec:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; write e.g. 90s, 30m, 2h or 1h30m"
        )
    return sum(float(m.group(1)) * _UNIT_SECONDS[m.group(2)] for m in parts)


def _retry_policy(args: argparse.Namespace) -> RetryPolicy:
    from tellakit.engine import RetryPolicy

    return RetryPolicy(auto=not args.no_retry, give_up_after=args.give_up_after)


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


def _passphrase(args: argparse.Namespace) -> str:
    return _secret(args.passphrase_file, ENV_PASSPHRASE, "Vault passphrase: ")


def _open(args: argparse.Namespace, *, allow_orphans: bool = False) -> Vault:
    from tellakit.vault import open_vault

    return open_vault(_vault_path(args), _passphrase(args), allow_orphans=allow_orphans)


def _ask(question: str) -> str:
    """One line typed at the terminal ('' without a terminal)."""
    if not sys.stdin.isatty():
        return ""
    try:
        return input(question)
    except EOFError:
        return ""


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


def _check_permissions(path: Path, *, fix: bool) -> None:
    """Warn about a vault other local accounts can read, and offer to make it private."""
    from tellakit.vault import loose_permissions, make_private

    loose = loose_permissions(path)
    if not loose:
        return
    print(
        f"Warning: {len(loose)} item(s) in {path} can be read by other users of this machine "
        f"(e.g. {loose[0]}); a vault should be private (folders 0700, files 0600).",
        file=sys.stderr,
    )
    if fix or _ask("Make the vault private now? [y/N] ").strip().lower() in ("y", "yes"):
        print(f"Made {len(make_private(path))} item(s) private.", file=sys.stderr)
    else:
        print("Run `tellakit info --fix-permissions` to fix them.", file=sys.stderr)


def _cmd_info(args: argparse.Namespace) -> int:
    from tellakit import summary

    _check_permissions(_vault_path(args), fix=args.fix_permissions)
    with _open(args, allow_orphans=True) as vault:
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
        orphans = vault.orphans()
        if orphans:
            print(
                f"Orphans: {len(orphans)} file(s) in blobs/ that the index does not list; "
                "`tellakit recover` re-indexes them, `tellakit recover --set-aside` moves them out"
            )
    return EXIT_OK


def _cmd_recover(args: argparse.Namespace) -> int:
    from tellakit.errors import IndexForeign, IndexMissing
    from tellakit.vault import open_vault, rebuild_index

    path = _vault_path(args)
    passphrase = _passphrase(args)
    try:
        vault = open_vault(path, passphrase, allow_orphans=True)
    except (IndexMissing, IndexForeign) as exc:
        print(f"{exc}", file=sys.stderr)
        vault, kept = rebuild_index(path, passphrase)
        print("Started a new, empty index.db" + "".join(f"; kept {p.name}" for p in kept))
    with vault:
        if args.set_aside is not None:
            moved = vault.set_aside_orphans(args.set_aside or None)
            for target in moved:
                print(f"Set aside {target}")
            print(f"Set aside {len(moved)} file(s); they open with `age -d -i` and the identity.")
            return EXIT_OK
        result = vault.recover_orphans()
        for f in result.recovered:
            print(f"{f.id}  {_size(f.size):>9}  {f.name}  sha256 {f.sha256}")
        for rel in result.unreadable:
            print(f"not readable with this vault's identity: blobs/{rel}", file=sys.stderr)
        print(f"Recovered {len(result.recovered)} file(s).")
        if result.unreadable:
            print("Move the unreadable ones out with `tellakit recover --set-aside`.")
            return EXIT_PARTIAL
    return EXIT_OK


def _cmd_rekey(args: argparse.Namespace) -> int:
    with _open(args) as vault:
        new = _secret(
            args.new_passphrase_file, ENV_NEW_PASSPHRASE, "New vault passphrase: ", confirm=True
        )
        count = vault.rekey(new)
        print(
            f"Re-keyed the vault ({count} file(s) re-wrapped); it opens with the new "
            "passphrase only. Old copies of identity.age open nothing in it any more."
        )
    return EXIT_OK


def _cmd_destroy(args: argparse.Namespace) -> int:
    from tellakit.vault import destroy_vault

    path = args.path or _vault_path(args)
    if not (path / "tellakit-vault.json").is_file():
        destroy_vault(path)  # VaultNotFound unless nothing of a vault is there
        print(f"Nothing to delete: no vault at {path}.")
        return EXIT_OK
    name = path.resolve().name
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("no terminal to confirm on: add --yes to destroy without asking")
        print(
            f"This destroys the vault at {path}: every file and report in it becomes "
            "unreadable at once and is then removed. It cannot be undone; the server is not "
            "touched."
        )
        if _ask(f"Type the vault folder's name ({name}) to destroy it: ").strip() != name:
            print("Not confirmed; nothing was deleted.", file=sys.stderr)
            return EXIT_FATAL
    destroy_vault(path)
    left = " (files not of the vault were left in the folder)" if path.exists() else ""
    print(f"Destroyed the vault at {path}{left}.")
    return EXIT_OK


def _cmd_connect(args: argparse.Namespace) -> int:
    from tellakit.engine import connect
    from tellakit.sealed import describe_encryption, parse_recipients

    if args.readable_names and not args.encrypt_to:
        raise UsageError("--readable-names goes with --encrypt-to")
    parse_recipients(args.encrypt_to)  # refuse a bad recipient before asking for a password
    with _open(args) as vault:
        password = _secret(args.password_file, ENV_SERVER_PASSWORD, "Server password: ")
        settings = connect(
            vault,
            args.server_url,
            args.login,
            password,
            args.root,
            allow_insecure_http=args.allow_insecure_http,
            encrypt_to=args.encrypt_to,
            readable_names=args.readable_names,
            without_digest=args.without_digest.replace("-", "_"),
        )
        print(
            f"Connected to {settings.server_url} as {settings.user_id}; reports go to "
            f"{settings.root_folder}/"
        )
        if settings.without_digest == "size_only":
            print(
                "Files the server computes no SHA-256 for are checked by size only "
                "(shown as 'size checked, content not verified')."
            )
        for line in describe_encryption(settings):
            print(line)
    return EXIT_OK


def _cmd_encrypt_to(args: argparse.Namespace) -> int:
    from tellakit.errors import NoConnection
    from tellakit.sealed import describe_encryption, parse_recipients, set_encrypt_to

    if args.off and args.recipients:
        raise UsageError("give recipients or --off, not both")
    parse_recipients(args.recipients)  # refuse a bad recipient before opening the vault
    with _open(args) as vault:
        settings = vault.get_connection()
        if settings is None:
            raise NoConnection("This vault has no Nextcloud connection; connect first.")
        if args.off or args.recipients or args.readable_names is not None:
            keep = () if args.off else (args.recipients or settings.encrypt_to)
            settings = set_encrypt_to(vault, keep, readable_names=args.readable_names)
            print("Reports queued from now on are written this way; queued ones keep theirs.")
        for line in describe_encryption(settings):
            print(line)
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
            return _submit_and_report(vault, [report.id], parallel=1, retry=_retry_policy(args))
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
            code = max(
                code,
                _submit_and_report(
                    vault, result.ids, parallel=args.parallel, retry=_retry_policy(args)
                ),
            )
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
        return _submit_and_report(vault, ids, parallel=args.parallel, retry=_retry_policy(args))


def _cmd_pause(args: argparse.Namespace) -> int:
    from tellakit.reports import Status

    with _open(args) as vault:
        for report_id in args.reports:
            report = vault.set_status(report_id, Status.PAUSED)
            print(f"{report.id}  {report.status.value}  {report.title}")
    return EXIT_OK


def _cmd_resume(args: argparse.Namespace) -> int:
    with _open(args) as vault:
        return _submit_and_report(
            vault, list(args.reports), parallel=args.parallel, retry=_retry_policy(args)
        )


def _cmd_status(args: argparse.Namespace) -> int:
    from tellakit import summary
    from tellakit.engine.scheduler import split_retry_note
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
    if args.view == "files":
        shown = frame[["report", "name", "size", "state", "bytes_sent", "remote_path"]].assign(
            verification=[_level_words(v) for v in frame["verification"]]
        )
        print(shown.to_string(index=False, na_rep="", max_colwidth=40))
        return EXIT_OK
    if args.view == "submitted":
        # How each report's files were found intact: the server's SHA-256, its recalculation,
        # a download, or (never with a check mark) the size only.
        shown = frame[["id", "title", "files", "bytes", "submitted_at", "verification"]]
        print(shown.to_string(index=False, na_rep="", max_colwidth=48))
        return EXIT_OK
    notes = _retry_notes(frame)
    shown = frame[["id", "title", "status", "files", "bytes", "bytes_sent", "reason"]].assign(
        reason=[split_retry_note(r)[0] if isinstance(r, str) else r for r in frame["reason"]]
    )
    print(shown.to_string(index=False, na_rep="", max_colwidth=40))
    if notes:
        print("\nAutomatic retries:")
        print("\n".join(notes))
    return EXIT_OK


def _level_words(value: object) -> str | None:
    """A file's ``verification`` value in words (None while it is not checked)."""
    from tellakit.reports import Verification

    return Verification(str(value)).label if isinstance(value, str) else None


def _retry_notes(frame: pd.DataFrame) -> list[str]:
    """One line per report whose outbox reason carries the retry plan recorded with it:
    when the next try comes (counted from when it was recorded) and why."""
    import math

    import pandas as pd

    from tellakit.engine.scheduler import next_try_after, retell_next_try, split_retry_note

    now = pd.Timestamp.now(tz="UTC")
    lines = []
    for rid, status, reason, updated in frame[["id", "status", "reason", "updated"]].itertuples(
        index=False
    ):
        note = split_retry_note(reason)[1] if isinstance(reason, str) else None
        if note is None:
            continue
        after = next_try_after(note)
        if after is not None and str(status) == "interrupted" and not pd.isna(updated):
            left = (pd.Timestamp(updated) + pd.Timedelta(seconds=after) - now).total_seconds()
            when = (
                f"next try in {math.ceil(left)} s"
                if left > -5
                else "next try overdue (is the process that sends it still running?)"
            )
            note = retell_next_try(note, when)
        lines.append(f"  {rid}  {note}")
    return lines


def _cmd_export(args: argparse.Namespace) -> int:
    with _open(args) as vault:
        written = vault.export_file(args.file_id, args.dest)
        print(f"Wrote {written}")
    return EXIT_OK


def _cmd_org(args: argparse.Namespace) -> int:
    if args.org_command == "keygen":
        return _org_keygen(args)
    return _org_pull(args)


def _org_keygen(args: argparse.Namespace) -> int:
    from tellakit.org import keygen
    from tellakit.sealed import fingerprint

    passphrase = None
    if not args.no_passphrase:
        passphrase = _secret(
            args.passphrase_file, ENV_ORG_PASSPHRASE, "New identity passphrase: ", confirm=True
        )
    extra = {} if args.work_factor is None else {"work_factor": args.work_factor}
    recipient = keygen(args.out, passphrase, **extra)
    protection = "in clear: keep it offline" if passphrase is None else "protected by a passphrase"
    print(f"Wrote the organization's identity to {args.out} ({protection}).")
    print(f"Recipient, for field staff (tellakit connect --encrypt-to): {recipient}")
    print(f"Fingerprint, to read to them: {fingerprint(recipient)}")
    print("Without this file (and its passphrase) no report sealed to it can be opened.")
    return EXIT_OK


def _org_pull(args: argparse.Namespace) -> int:
    from tellakit.org import FAILED, VERIFIED, load_identities, pull
    from tellakit.org.pull import format_row

    identities = load_identities(
        args.identity,
        lambda: _secret(args.passphrase_file, ENV_ORG_PASSPHRASE, "Identity passphrase: "),
    )
    password = _secret(args.password_file, ENV_SERVER_PASSWORD, "Server password: ")
    frame = pull(
        args.server_url,
        args.login,
        password,
        args.root,
        identities,
        args.dest,
        allow_insecure_http=args.allow_insecure_http,
        on_report=lambda row: print(format_row(row), flush=True),
    )
    counts = frame["status"].value_counts()
    failed = int(counts.get(FAILED, 0))
    print(
        f"{int(counts.get(VERIFIED, 0))} verified, {failed} failed, "
        f"{len(frame) - failed - int(counts.get(VERIFIED, 0))} waiting; in {args.dest}"
    )
    return EXIT_PARTIAL if failed else EXIT_OK


# --- submitting ----------------------------------------------------------------------


def _submit_and_report(
    vault: Vault, report_ids: list[str], *, parallel: int, retry: RetryPolicy
) -> int:
    """Submit, print the batch summary, and turn it into an exit code.

    Ctrl-C pauses the reports on their way (recorded paused, resumable) and says so.
    """
    from tellakit.batch import BatchInterrupted, submit_many

    try:
        summary = submit_many(vault, report_ids, max_parallel=parallel, retry=retry)
    except BatchInterrupted as stop:
        ids = " ".join(stop.paused)
        hint = f"; `tellakit resume {ids}` continues them" if stop.paused else ""
        print(
            f"Interrupted: {len(stop.paused)} report(s) paused where they stopped{hint}.",
            file=sys.stderr,
        )
        return EXIT_PARTIAL
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
    "recover": _cmd_recover,
    "rekey": _cmd_rekey,
    "destroy": _cmd_destroy,
    "connect": _cmd_connect,
    "encrypt-to": _cmd_encrypt_to,
    "import": _cmd_import,
    "files": _cmd_files,
    "report": _cmd_report,
    "batch": _cmd_batch,
    "submit": _cmd_submit,
    "pause": _cmd_pause,
    "resume": _cmd_resume,
    "status": _cmd_status,
    "export": _cmd_export,
    "org": _cmd_org,
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
