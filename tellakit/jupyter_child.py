"""``python -m tellakit.jupyter_child lab|voila ARGS``: the Jupyter server ``tellakit lab`` and
``tellakit app`` run (tellakit/launch.py), made to stop cleanly on SIGINT and with tellakit.

* SIGINT. Started without a terminal (stdin closed, its own session), JupyterLab turns a SIGINT
  into a bare KeyboardInterrupt that skips its clean-up: kernels are not shut down and the
  server's files stay. In a terminal, a second Ctrl-C runs Jupyter's own stop instead (kernels
  shut down, files removed); here SIGINT does that at once, as JupyterHub does for its
  single-user servers. Voilà already stops cleanly on a KeyboardInterrupt.
* tellakit gone. The server runs in its own session, so nothing would stop it if ``tellakit``
  itself were killed outright; a watcher thread notices the parent is gone and sends the
  server the same SIGINT.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence

from jupyter_server.serverapp import ServerApp

PARENT_POLL_SECONDS = 1.0


def _stop_on_sigint(init_signal: Callable[[ServerApp], None]) -> Callable[[ServerApp], None]:
    def init(self: ServerApp) -> None:
        init_signal(self)
        signal.signal(signal.SIGINT, self._signal_stop)

    return init


def _stop_when_orphaned() -> None:
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="tellakit-parent-watch", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> None:
    """Run JupyterLab (``lab``) or Voilà (``voila``) with the remaining arguments."""
    which, *args = sys.argv[1:] if argv is None else argv
    sys.argv = [which, *args]
    _stop_when_orphaned()
    if which == "lab":
        ServerApp.init_signal = _stop_on_sigint(ServerApp.init_signal)  # type: ignore[method-assign,assignment]
        from jupyterlab.labapp import main as run
    elif which == "voila":
        from voila.app import main as run
    else:
        raise SystemExit(f"usage: python -m tellakit.jupyter_child lab|voila ARGS (not {which})")
    sys.exit(run())


if __name__ == "__main__":
    main()
