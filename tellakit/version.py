"""The installed package's version, for the User-Agent and manifest.json.

A leaf module: the layers below the package root (``nextcloud``, ``engine``) read the version
here instead of importing ``tellakit`` itself, whose ``__init__`` re-exports the layers above
them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def tellakit_version() -> str:
    """The version pip installed (``"unknown"`` when running from an uninstalled tree)."""
    try:
        return version("tellakit")
    except PackageNotFoundError:  # pragma: no cover - only in a tree that was never installed
        return "unknown"
