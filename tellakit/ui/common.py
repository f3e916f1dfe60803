"""Small building blocks every screen uses: messages, confirmations, a "⋯" menu, closing."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import ipywidgets as w

from tellakit.errors import TellakitError
from tellakit.ui.fmt import esc

__all__ = [
    "AUTO_RETRY_LABEL",
    "Confirm",
    "Menu",
    "Message",
    "auto_retry_checkbox",
    "close_tree",
    "describe_error",
]

_COLORS = {"info": "#555", "success": "#1b7f3b", "error": "#b3261e", "warning": "#8a5a00"}


def describe_error(error: BaseException) -> str:
    """What the user reads: tellakit's own message, or the kind of an unexpected failure."""
    if isinstance(error, TellakitError):
        return str(error)
    return f"Unexpected error ({type(error).__name__}): {error}"


class Message(w.HTML):
    """A one-line status message (info, success, warning or error); empty hides nothing."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.kind = ""
        self.text = ""
        self.add_class("tk-message")

    def show(self, text: str, kind: str = "info") -> None:
        """Show ``text`` (plain text; escaped here)."""
        self.kind, self.text = kind, text
        color = _COLORS.get(kind, _COLORS["info"])
        self.value = f'<span class="tk-{kind}" style="color:{color}">{esc(text)}</span>'

    def error(self, error: BaseException | str) -> None:
        """Show an error: ``str(error)`` for tellakit errors."""
        self.show(error if isinstance(error, str) else describe_error(error), "error")

    def clear(self) -> None:
        """Hide the message."""
        self.kind, self.text = "", ""
        self.value = ""


class Confirm(w.VBox):
    """An inline question with a confirming and a cancelling button, hidden until asked."""

    def __init__(self, *, yes: str = "Yes", no: str = "Cancel", danger: bool = True) -> None:
        self.question = w.HTML()
        self.yes_button = w.Button(description=yes, button_style="danger" if danger else "primary")
        self.no_button = w.Button(description=no)
        self.yes_button.add_class("tk-confirm-yes")
        self.no_button.add_class("tk-confirm-no")
        self._then: Callable[[], None] | None = None
        super().__init__(
            [self.question, w.HBox([self.yes_button, self.no_button])],
            layout=w.Layout(
                display="none", border="1px solid #d0a000", padding="6px", margin="4px 0"
            ),
        )
        self.add_class("tk-confirm")
        self.yes_button.on_click(self._on_yes_click)
        self.no_button.on_click(self._on_no_click)

    @property
    def asking(self) -> bool:
        """True while the question is shown."""
        return self.layout.display != "none"

    def ask(self, question: str, then: Callable[[], None]) -> None:
        """Show ``question``; run ``then`` only when the user confirms."""
        self.question.value = f"<b>{esc(question)}</b>"
        self._then = then
        self.layout.display = "flex"

    def dismiss(self) -> None:
        """Hide the question without running anything."""
        self._then = None
        self.layout.display = "none"

    def _on_yes_click(self, _: w.Button) -> None:
        then = self._then
        self.dismiss()
        if then is not None:
            then()

    def _on_no_click(self, _: w.Button) -> None:
        self.dismiss()


class Menu(w.HBox):
    """A "⋯" toggle that reveals a few action buttons (ipywidgets has no pop-up menu).

    The buttons are built on first opening: a list of many rows stays cheap.
    """

    def __init__(self, actions: Iterable[tuple[str, Callable[[], None]]]) -> None:
        self.toggle = w.ToggleButton(
            value=False, description="⋯", tooltip="More actions", layout=w.Layout(width="36px")
        )
        self.toggle.add_class("tk-menu-toggle")
        self._actions = list(actions)
        self._items: w.HBox | None = None
        super().__init__([self.toggle])
        self.toggle.observe(self._on_toggle_value, "value")

    @property
    def buttons(self) -> dict[str, w.Button]:
        """The action buttons by label (built on first use)."""
        if self._items is None:
            self._items = w.HBox(layout=w.Layout(display="none"))
            buttons = []
            for label, action in self._actions:
                button = w.Button(description=label, layout=w.Layout(width="auto"))
                button.add_class(f"tk-menu-{label.lower()}")
                button.on_click(self._runner(action))
                buttons.append(button)
            self._items.children = tuple(buttons)
            self.children = (self.toggle, self._items)
        return {b.description: b for b in self._items.children}

    def _runner(self, action: Callable[[], None]) -> Callable[[w.Button], None]:
        def run(_: w.Button) -> None:
            self.toggle.value = False
            action()

        return run

    def _on_toggle_value(self, change: dict) -> None:
        self.buttons  # noqa: B018 - builds the buttons on first opening
        assert self._items is not None
        self._items.layout.display = "flex" if change["new"] else "none"

    def choose(self, label: str) -> None:
        """Open the menu and click ``label`` (what a user does in two clicks)."""
        self.toggle.value = True
        self.buttons[label].click()


#: The connection's automatic-retry setting as the user sees it (issue 10): off by default,
#: as in Tella, where an interrupted upload waits in the outbox for a tap on Resume.
AUTO_RETRY_LABEL = "Resume automatically when the connection returns"


def auto_retry_checkbox(value: bool) -> w.Checkbox:
    """The visible toggle of the connection's ``auto_retry`` setting."""
    box = w.Checkbox(
        value=value,
        description=AUTO_RETRY_LABEL,
        indent=False,
        layout=w.Layout(width="auto"),
        tooltip="Interrupted uploads start again by themselves once the server answers",
    )
    box.add_class("tk-auto-retry")
    return box


def close_tree(widget: w.Widget) -> None:
    """Close a widget and everything inside it (frees the browser-side models)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    widget.close()
