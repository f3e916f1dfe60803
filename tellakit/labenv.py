"""The environment variables through which ``tellakit lab`` tells the app about its server.

``tellakit lab`` (lab.py) writes them into JupyterLab's environment, which its kernels inherit;
the app (ui/defaults.py) reads them. A leaf module, so the app need not import the launcher.
"""

from __future__ import annotations

#: The development server's address, the demo user, and that user's password.
ENV_URL = "TELLAKIT_DEVSERVER_URL"
ENV_USER = "TELLAKIT_DEVSERVER_USER"
ENV_PASSWORD = "TELLAKIT_DEVSERVER_PASSWORD"  # noqa: S105 - the name of a variable, not a secret
#: Where ``tellakit lab`` keeps its data (the app's vault lives in ``$TELLAKIT_LAB_HOME/vault``).
ENV_LAB_HOME = "TELLAKIT_LAB_HOME"
