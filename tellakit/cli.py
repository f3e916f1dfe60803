"""The ``tellakit`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tellakit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="JupyterLab on the app notebook, with the development server")
    lab.add_argument("--port", type=int, default=8888, help="JupyterLab port")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    sub.add_parser(
        "devserver", help="run the Nextcloud-compatible development server", add_help=False
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["devserver"]:
        from tellakit.devserver.cli import main as devserver_main

        return devserver_main(args_list[1:])
    args = build_parser().parse_args(args_list)
    if args.command == "lab":
        from tellakit.lab import run_lab

        return run_lab(port=args.port, open_browser=not args.no_browser)
    return 2


if __name__ == "__main__":
    sys.exit(main())
