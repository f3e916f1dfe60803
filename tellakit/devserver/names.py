"""Nextcloud's file name rules (FilenameValidator), for the development server.

The defaults are Nextcloud's; ``windows_compatible`` adds what Nextcloud 31's
"Windows compatible filenames" setting adds. Messages are Nextcloud's own, because
clients show them to people (tellakit maps them to NameRejected).
"""

from __future__ import annotations

from dataclasses import dataclass, field

WINDOWS_BASENAMES = (
    ["con", "prn", "aux", "nul"]
    + [f"com{i}" for i in range(10)]
    + ["com¹", "com²", "com³"]
    + [f"lpt{i}" for i in range(10)]
    + ["lpt¹", "lpt²", "lpt³"]
)
WINDOWS_CHARACTERS = ["<", ">", ":", '"', "|", "?", "*"]
WINDOWS_EXTENSIONS = [" ", "."]
MAX_NAME_BYTES = 250
#: View::verifyPath's message for an InvalidCharacterInPathException without one of its own
#: (a control character, or 4-byte UTF-8 on a database without utf8mb4).
INVALID_CHARACTER = "Filename contains at least one invalid character"


@dataclass
class NameRules:
    """The lists Nextcloud advertises under capabilities ``files`` (lowercase)."""

    forbidden_filenames: list[str] = field(default_factory=lambda: [".htaccess"])
    forbidden_basenames: list[str] = field(default_factory=list)
    forbidden_characters: list[str] = field(default_factory=lambda: ["\\", "/"])
    forbidden_extensions: list[str] = field(default_factory=lambda: [".filepart", ".part"])
    utf8mb4: bool = True  # False: the database cannot store 4-byte UTF-8 (MySQL "utf8")

    @classmethod
    def create(cls, *, windows_compatible: bool = False, utf8mb4: bool = True) -> NameRules:
        """Default rules, plus the Windows-compatible additions when asked."""
        rules = cls(utf8mb4=utf8mb4)
        if windows_compatible:
            rules.forbidden_basenames += WINDOWS_BASENAMES
            rules.forbidden_characters += WINDOWS_CHARACTERS
            rules.forbidden_extensions += WINDOWS_EXTENSIONS
        return rules

    def capabilities(self) -> dict[str, object]:
        """The ``files`` capability entries describing these rules."""
        return {
            "blacklisted_files": list(self.forbidden_filenames),
            "forbidden_filenames": list(self.forbidden_filenames),
            "forbidden_filename_basenames": list(self.forbidden_basenames),
            "forbidden_filename_characters": list(self.forbidden_characters),
            "forbidden_filename_extensions": list(self.forbidden_extensions),
        }

    def check(self, name: str) -> str | None:
        """Return Nextcloud's reason why ``name`` is rejected, or None when it is allowed."""
        trimmed = name.strip()
        if trimmed == "":
            return "Empty filename is not allowed"
        if trimmed in (".", ".."):
            return "Dot files are not allowed"
        if len(name.encode("utf-8")) > MAX_NAME_BYTES:
            return "Filename is too long"
        if not self.utf8mb4 and any(ord(char) > 0xFFFF for char in name):
            return INVALID_CHARACTER
        lower = name.lower()
        if lower in self.forbidden_filenames:
            return f'"{name}" is a forbidden file or folder name.'
        # The basename is the part before the first dot that is not a leading one.
        dot = lower.find(".", 1)
        basename = lower if dot == -1 else lower[:dot]
        if basename in self.forbidden_basenames:
            return f'"{basename}" is a forbidden prefix for file or folder names.'
        for ext in self.forbidden_extensions:
            if lower.endswith(ext):
                if ext.startswith(".") and len(ext) > 1:
                    return f'"{ext}" is a forbidden file type.'
                return f'Filenames must not end with "{ext}".'
        if any(ord(char) < 0x20 for char in name):
            return INVALID_CHARACTER
        for char in self.forbidden_characters:
            if char in name:
                return f'"{char}" is not allowed inside a file or folder name.'
        return None
