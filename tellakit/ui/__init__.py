"""The notebook app (ipywidgets only): vault, server settings, reports, uploads.

    from tellakit.ui import App
    App()          # the last expression of a cell

Screens live in their own modules (unlock, connection, home, report_list, report_form,
upload_view, submitted_view); ``bridge.Throttle`` carries worker-thread progress to widgets.
"""

from __future__ import annotations

from tellakit.ui.app import App
from tellakit.ui.defaults import ServerPrefill

__all__ = ["App", "ServerPrefill"]
