"""tellakit: Tella's Nextcloud connection for Jupyter.

Collect evidence into an encrypted vault, write reports, and submit them to a Nextcloud server
with resumable, verified uploads. The public API is re-exported here.
"""

from __future__ import annotations

__version__ = "0.1.0"

from tellakit import errors
from tellakit.errors import TellakitError

__all__ = ["TellakitError", "__version__", "errors"]
