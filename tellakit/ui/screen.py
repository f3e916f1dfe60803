"""The base of every screen the app shows, and the navigation a screen may ask for."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from tellakit.ui.common import close_tree

if TYPE_CHECKING:
    from tellakit.ui.context import AppContext


class Screen(w.VBox):
    """One screen of the app: a VBox the App swaps in and out of its body.

    The controls a person would click are public attributes, so notebook cells and tests drive
    a screen exactly as a person does (set ``value``, call ``click()``). Handlers are named
    ``_on_<child>_<event>`` and only call the public API, then render what it returns.
    """

    title = ""

    def __init__(self, ctx: AppContext, children: Any = (), **kwargs: Any) -> None:
        super().__init__(children, **kwargs)
        self.ctx = ctx
        self.add_class("tk-screen")

    def request_leave(self, proceed: Callable[[], None]) -> None:
        """Called before the app leaves this screen; call ``proceed`` to allow it."""
        proceed()

    def dispose(self) -> None:
        """Stop listening to the engine and close the widgets (the screen is gone)."""
        close_tree(self)
