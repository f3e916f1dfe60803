"""``tellakit devserver``: run the development server in the foreground."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tellakit.devserver.profiles import PROFILES  # standard library only: no extra needed


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``tellakit devserver``."""
    p = argparse.ArgumentParser(
        prog="tellakit devserver",
        description="A Nextcloud-compatible development server (WebDAV, OCS, Login Flow v2, "
        "chunked uploads) with fault injection.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=8080, help="port (0 = any free port)")
    p.add_argument("--data", type=Path, help="data folder (default: a temporary one, removed)")
    p.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="UID:PASSWORD[:LOGIN]",
        help="an account (repeatable; LOGIN e.g. an e-mail); default alice:secret. "
        f"A bare UID takes its password from ${PASSWORD_ENV}",
    )
    p.add_argument("--quota", action="append", default=[], metavar="UID:BYTES")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="METHOD:PATH_REGEX:KIND:ARG",
        help="e.g. PUT:/uploads/:cut:1048576, *:/files/:status:503:2, GET::latency:0.5, "
        "*::bandwidth:1000000, PUT::prob:503:0.05",
    )
    p.add_argument(
        "--profile",
        default="nextcloud",
        choices=list(PROFILES),
        help="which kind of real server to behave like (default nextcloud): "
        "nextcloud-object-store (S3 + Redis: no hash on a v2 MOVE), nextcloud-old (18: no "
        "X-Hash, no PATCH), behind-proxy (Login Flow hands out http:// URLs), mysql-utf8 "
        "(4-byte UTF-8 names refused)",
    )
    p.add_argument("--windows-compatible", action="store_true", help="Windows name rules")
    p.add_argument("--brute-force-protection", action="store_true", help="429 after failures")
    p.add_argument("--chunk-expiry", type=float, default=86400.0, metavar="SECONDS")
    p.add_argument("--login-flow-expiry", type=float, default=1200.0, metavar="SECONDS")
    p.add_argument("--max-chunk-size", type=int, default=100 * 1024 * 1024, metavar="BYTES")
    p.add_argument("--maintenance", action="store_true", help="start in maintenance mode")
    p.add_argument("--quiet", action="store_true", help="no access log lines")
    return p


PASSWORD_ENV = "TELLAKIT_DEVSERVER_PASSWORD"  # noqa: S105 - a variable's name, not a secret


def _users(specs: list[str]) -> list[tuple[str, str, str | None]]:
    users = []
    for spec in specs or ["alice:secret"]:
        if ":" not in spec and os.environ.get(PASSWORD_ENV):
            # The password from the environment keeps it off the command line (visible in ps).
            spec = f"{spec}:{os.environ[PASSWORD_ENV]}"
        uid, sep, rest = spec.partition(":")
        if not sep or not uid:
            raise ValueError(f"--user needs UID:PASSWORD, got {spec.split(':')[0]!r}:...")
        password, _, login = rest.partition(":")
        users.append((uid, password, login or None))
    return users


def main(argv: Sequence[str] | None = None) -> int:
    """Run until interrupted; returns the exit code."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stderr)
    if not args.quiet:
        logging.getLogger("tellakit.devserver.access").setLevel(logging.INFO)
    try:
        from tellakit.devserver.server import DevServer
    except ImportError as exc:  # the optional extra is missing
        print(
            f"tellakit devserver needs: pip install 'tellakit[devserver]' ({exc})", file=sys.stderr
        )
        return 2
    try:
        users = _users(args.user)
        srv = DevServer(
            args.data,
            users={},
            chunk_expiry_seconds=args.chunk_expiry,
            windows_compatible=args.windows_compatible,
            brute_force_protection=args.brute_force_protection,
            login_flow_expiry_seconds=args.login_flow_expiry,
            max_chunk_size=args.max_chunk_size,
            host=args.host,
            port=args.port,
            profile=args.profile,
        )
        for uid, password, login in users:
            srv.add_user(uid, password, login=login)
        for spec in args.quota:
            uid, _, amount = spec.partition(":")
            srv.set_quota(uid, int(amount))
        for spec in args.fault:
            srv.faults.add_spec(spec)
    except (ValueError, KeyError) as exc:
        print(f"tellakit devserver: {exc}", file=sys.stderr)
        return 2
    srv.maintenance = args.maintenance
    try:
        srv.start()
    except OSError as exc:
        print(
            f"tellakit devserver: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr
        )
        return 1
    stop = threading.Event()

    def _stop(_signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    names = ", ".join(uid for uid, _, _ in users)
    print(
        f"tellakit devserver listening on {srv.url} (profile: {srv.profile.name}; "
        f"users: {names}; data: {srv.data_dir})",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
