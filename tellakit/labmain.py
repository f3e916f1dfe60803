"""``python -m tellakit.labmain ARGS``: JupyterLab for ``tellakit lab``, stopped cleanly by SIGINT.

Started without a terminal (tellakit/launch.py runs it with stdin closed, in its own session),
Jupyter turns a SIGINT into a bare KeyboardInterrupt that skips its clean-up: kernels are not
shut down and the server's files stay. In a terminal, a second Ctrl-C runs Jupyter's own stop
instead (kernels shut down, files removed); this makes SIGINT do that at once, as JupyterHub
does for its single-user servers.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

from jupyter_server.serverapp import ServerApp


def _stop_on_sigint(init_signal: Callable[[ServerApp], None]) -> Callable[[ServerApp], None]:
    def init(self: ServerApp) -> None:
        init_signal(self)
        signal.signal(signal.SIGINT, self._signal_stop)

    return init


def main() -> None:
    """JupyterLab's own entry point, with SIGINT bound to Jupyter's clean stop."""
    ServerApp.init_signal = _stop_on_sigint(ServerApp.init_signal)  # type: ignore[method-assign,assignment]
    from jupyterlab.labapp import main as lab_main

    sys.exit(lab_main())


if __name__ == "__main__":
    main()
