"""Child process for test_kill.py: open the vault, submit one report, SIGKILL itself.

Usage: python kill_child.py VAULT PASSPHRASE REPORT_ID K MODE
The K-th HTTP request of the submission is the kill point; MODE says where: "before" it is
sent, "mid" its body (half of it sent; requests without a body count as "before"), or
"after" its answer arrived but before the engine could record anything.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def main(argv: list[str]) -> int:
    vault_path, passphrase, report_id, k_text, mode = argv
    kill_at = int(k_text)

    from tellakit.engine import Submitter, client_for
    from tellakit.vault import open_vault

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from engine_helpers import BULK

    count = 0

    def die() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    def factory(settings: Any) -> Any:
        client = client_for(settings)
        original = client.session.request

        def request(method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
            nonlocal count
            count += 1
            if count == kill_at:
                body = kwargs.get("data")
                # A PUT's body (StreamBody) or a bulk request's (MultipartBody) says how far
                # it got through its progress callback.
                hook = next((a for a in ("on_progress", "_on_progress") if hasattr(body, a)), None)
                if mode == "mid" and hook is not None and len(body) > 1:
                    inner = getattr(body, hook)
                    half = len(body) // 2

                    def progress(sent: int) -> None:
                        if sent >= half:
                            die()
                        if inner is not None:
                            inner(sent)

                    setattr(body, hook, progress)
                elif mode in ("before", "mid"):
                    die()
            response = original(method, url, *args, **kwargs)
            if count == kill_at and mode == "after":
                die()
            return response

        client.session.request = request
        return client

    vault = open_vault(vault_path, passphrase)
    submitter = Submitter(vault, tuning=BULK, client_factory=factory, max_parallel_reports=1)
    submitter.submit(report_id)
    submitter.wait(report_id, timeout=120)
    submitter.close()
    vault.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
