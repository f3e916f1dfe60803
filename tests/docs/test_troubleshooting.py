"""docs/troubleshooting.md and the code agree, in both directions.

Convention (stated at the top of troubleshooting.md): a message the user can meet is quoted on
a line of its own as ``> `message` ``, with ``{placeholders}`` for the parts that vary.

- Every error class defined in tellakit/errors.py appears in troubleshooting.md, as a heading or
  in a code span.
- Every quoted message appears in the code: it must match, whole, one of the string literals or
  f-strings in tellakit/**/*.py (read with ``ast``), where a placeholder matches anything and an
  f-string's ``{expression}`` matches a placeholder or, for a name assigned a string in the same
  module (``where = f"{method} {path}"``, ``what = "timed out"``), that string.
- Every message an error is constructed with (``SomeError("...")`` / ``SomeError(f"...")`` for
  the classes of tellakit/errors.py and the CLI's UsageError, outside the dev server) is quoted
  in troubleshooting.md, so a new message cannot go undocumented.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "tellakit"
DOC = REPO / "docs" / "troubleshooting.md"
ERRORS = PACKAGE / "errors.py"
HOLE = "\x00"  # stands for an f-string expression not resolved to a string
QUOTE = re.compile(r"^> (`+)(.+?)\1\s*$", re.M)
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
MAX_VARIANTS = 256


def error_classes() -> list[str]:
    """The classes tellakit/errors.py defines."""
    tree = ast.parse(ERRORS.read_text(encoding="utf-8"))
    return [n.name for n in tree.body if isinstance(n, ast.ClassDef)]


def quoted_messages() -> list[str]:
    """Messages quoted in troubleshooting.md (``> `...` `` lines)."""
    return [m.group(2).strip() for m in QUOTE.finditer(DOC.read_text(encoding="utf-8"))]


def message_regex(message: str) -> re.Pattern[str]:
    """A documented message as a regex: placeholders match anything, the rest literally."""
    fixed = PLACEHOLDER.split(message)
    return re.compile(".*".join(re.escape(part) for part in fixed), re.S)


@dataclass
class Module:
    """One source file: its string expressions and the strings its names are assigned."""

    path: Path
    tree: ast.Module
    names: dict[str, list[ast.expr]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name) and is_string_expr(node.value):
                        self.names.setdefault(target.id, []).append(node.value)

    def variants(self, node: ast.expr, depth: int = 0) -> list[str]:
        """Every text ``node`` can render to, with HOLE for what stays unknown."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            return self.variants(node.body, depth) + self.variants(node.orelse, depth)
        if isinstance(node, ast.JoinedStr):
            pieces: list[list[str]] = []
            for value in node.values:
                if isinstance(value, ast.Constant):
                    pieces.append([str(value.value)])
                else:
                    assert isinstance(value, ast.FormattedValue)
                    pieces.append(self.expression_variants(value.value, depth))
            out: list[str] = []
            for combo in itertools.product(*pieces):
                out.append("".join(combo))
                if len(out) >= MAX_VARIANTS:
                    break
            return out
        return [HOLE]

    def expression_variants(self, node: ast.expr, depth: int) -> list[str]:
        if isinstance(node, ast.Name) and node.id in self.names and depth < 3:
            known = [v for expr in self.names[node.id] for v in self.variants(expr, depth + 1)]
            return [HOLE, *dict.fromkeys(known)]
        return [HOLE]


def is_string_expr(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.IfExp):
        return is_string_expr(node.body) and is_string_expr(node.orelse)
    return False


def modules() -> list[Module]:
    return [
        Module(path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def string_expressions(module: Module) -> Iterator[ast.expr]:
    """Outermost string expressions (not the pieces inside an f-string)."""
    inner: set[int] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.JoinedStr):
            inner.update(id(v) for v in node.values)
    for node in ast.walk(module.tree):
        if id(node) in inner or not isinstance(node, (ast.Constant, ast.JoinedStr)):
            continue
        if isinstance(node, ast.JoinedStr) or isinstance(node.value, str):
            yield node


def code_texts() -> set[str]:
    """Everything the package's string literals and f-strings can render to."""
    texts: set[str] = set()
    for module in modules():
        for node in string_expressions(module):
            texts.update(module.variants(node))
    return texts


def matches(message: str, text: str) -> bool:
    return message_regex(message).fullmatch(text) is not None


def test_the_convention_is_stated_and_used() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "{placeholders}" in text.split("\n## ", 1)[0], "state the quoting convention on top"
    assert len(quoted_messages()) >= 50


def test_every_error_class_appears_in_troubleshooting() -> None:
    text = DOC.read_text(encoding="utf-8")
    headings = {h.strip() for h in re.findall(r"^#+ (.+)$", text, re.M)}
    missing = [
        name
        for name in error_classes()
        if f"`{name}`" not in text and not any(re.search(rf"\b{name}\b", h) for h in headings)
    ]
    assert missing == [], f"error classes not in troubleshooting.md: {missing}"


def test_every_quoted_message_appears_in_the_code() -> None:
    texts = code_texts()
    vague, unknown = [], []
    for message in quoted_messages():
        if max(len(p.strip()) for p in PLACEHOLDER.split(message)) < 8:
            vague.append(message)
        elif not any(matches(message, text) for text in texts):
            unknown.append(message)
    assert vague == [], f"quote more of these messages (too little fixed text): {vague}"
    assert unknown == [], f"quoted in troubleshooting.md but not in tellakit/: {unknown}"


def raised_messages() -> Iterator[tuple[str, list[str]]]:
    """(where, variants) for each error constructed with a message literal in the package."""
    classes = {*error_classes(), "UsageError"}
    for module in modules():
        if "devserver" in module.path.relative_to(PACKAGE).parts:
            continue  # the dev server's errors are the server's, shown as HTTP answers
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in classes
                and node.args
                and is_string_expr(node.args[0])
            ):
                where = f"{module.path.relative_to(REPO)}:{node.lineno} {node.func.id}"
                yield where, module.variants(node.args[0])


def test_every_error_message_in_the_code_is_documented() -> None:
    documented = [message_regex(m) for m in quoted_messages()]
    missing = [
        f"{where}: {variants[0].replace(HOLE, '{...}')!r}"
        for where, variants in raised_messages()
        if not any(rx.fullmatch(v) for rx in documented for v in variants)
    ]
    assert missing == [], "error messages missing from troubleshooting.md:\n" + "\n".join(missing)


def test_the_matcher_refuses_invented_text_and_accepts_placeholders() -> None:
    # The checks above are only as good as this matching; pin its behaviour on real messages.
    texts = code_texts()
    assert any(matches("The passphrase does not open this vault.", t) for t in texts)
    assert not any(matches("The passphrase does not open this vault!", t) for t in texts)
    assert any(matches("No report with id {id} in this vault.", t) for t in texts)
    assert not any(matches("No report with id 42 in this vault.", t) for t in texts)
