"""Name sanitizing by the server's rules (pure part; server acceptance is in test_names_server)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tellakit.nextcloud.models import NameRules
from tellakit.nextcloud.names import (
    clean_characters,
    cut_utf8,
    is_acceptable,
    name_problem,
    sanitize_name,
    unique_candidates,
)

WINDOWS = NameRules(
    forbidden_names=frozenset({".htaccess"}),
    forbidden_basenames=frozenset(
        {"con", "prn", "aux", "nul"}
        | {f"com{i}" for i in range(10)}
        | {f"lpt{i}" for i in range(10)}
    ),
    forbidden_characters=frozenset(set('<>:"|?*') | {"/", "\\"}),
    forbidden_extensions=frozenset({" ", ".", ".filepart", ".part"}),
)

# Text that likes the nasty cases: separators, dots, controls, emoji, reserved words.
nasty = st.lists(
    st.one_of(
        st.sampled_from(["/", "\\", ".", "..", " ", "\x00", "\n", "\x1f", "\x7f", "*", ":", "?"]),
        st.sampled_from(["con", "CON", "aux", ".htaccess", ".part", ".filepart", "lpt1", "nul"]),
        st.sampled_from(["😀", "👩‍👩‍👧", "é", "Ω", "日本語", "\u200b", "\ufeff"]),
        st.text(min_size=0, max_size=40),
    ),
    max_size=30,
).map("".join)


def _check(result: str, rules: NameRules) -> None:
    assert result, "never empty"
    assert result not in (".", "..")
    assert "/" not in result and "\\" not in result
    assert len(result.encode("utf-8")) <= 250
    assert result == result.strip()
    assert is_acceptable(result, rules)


@settings(max_examples=200, deadline=None)
@given(nasty)
def test_sanitize_default_rules_always_acceptable(name: str) -> None:
    _check(sanitize_name(name), NameRules())


@settings(max_examples=200, deadline=None)
@given(nasty)
def test_sanitize_windows_rules_always_acceptable(name: str) -> None:
    _check(sanitize_name(name, WINDOWS), WINDOWS)


@settings(max_examples=100, deadline=None)
@given(nasty)
def test_sanitize_is_idempotent(name: str) -> None:
    once = sanitize_name(name, WINDOWS)
    assert sanitize_name(once, WINDOWS) == once


@settings(max_examples=100, deadline=None)
@given(nasty, st.booleans())
def test_unique_candidates_are_distinct_and_acceptable(name: str, keep_ext: bool) -> None:
    cands = list(itertools.islice(unique_candidates(name, WINDOWS, keep_extension=keep_ext), 12))
    assert len(set(cands)) == len(cands)
    for c in cands:
        _check(c, WINDOWS)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Protest on 3/4", "Protest on 3_4"),
        ("a\\b", "a_b"),
        ("  spaced  title  ", "spaced  title"),
        ("line\nbreak\ttab", "line break tab"),
        ("\x00\x01lead", "lead"),
        ("..", "Untitled"),
        (".", "Untitled"),
        ("", "Untitled"),
        ("   ", "Untitled"),
        ("/", "_"),
        (".htaccess", ".htaccess_"),
        ("notes.part", "notes_part"),
        ("video.mp4.filepart", "video.mp4_filepart"),
        ("IMG_0001.jpg", "IMG_0001.jpg"),
        ("😀 evidence", "😀 evidence"),
    ],
)
def test_sanitize_examples(name: str, expected: str) -> None:
    assert sanitize_name(name) == expected


def test_windows_rules_rename_reserved_basenames_and_trailing_dots() -> None:
    assert sanitize_name("CON.txt", WINDOWS) == "CON_.txt"
    assert sanitize_name("aux", WINDOWS) == "aux_"
    assert sanitize_name('what? "now": <x>|y*', WINDOWS) == "what_ _now__ _x__y_"
    assert sanitize_name("ends with dot.", WINDOWS) == "ends with dot"


def test_long_name_is_cut_on_a_character_boundary_keeping_the_extension() -> None:
    name = "é" * 200 + ".jpeg"  # 405 bytes
    result = sanitize_name(name)
    assert result.endswith(".jpeg")
    assert len(result.encode()) <= 250
    assert result == "é" * 122 + ".jpeg"  # 244 + 5 = 249 bytes; a 123rd é would be 251


def test_long_emoji_name_stays_valid_utf8() -> None:
    result = sanitize_name("😀" * 100)  # 400 bytes, 4 bytes each
    assert result == "😀" * 62


def test_unique_candidates_number_before_extension_for_files() -> None:
    cands = list(itertools.islice(unique_candidates("IMG.jpg", keep_extension=True), 3))
    assert cands == ["IMG.jpg", "IMG (2).jpg", "IMG (3).jpg"]


def test_unique_candidates_for_titles_keep_dots_in_the_name() -> None:
    cands = list(itertools.islice(unique_candidates("Report v1.2"), 3))
    assert cands == ["Report v1.2", "Report v1.2 (2)", "Report v1.2 (3)"]


def test_unique_candidates_of_a_long_title_fit_250_bytes() -> None:
    cands = list(itertools.islice(unique_candidates("x" * 300), 11))
    assert cands[0] == "x" * 250
    assert cands[1] == "x" * 246 + " (2)"
    assert cands[10] == "x" * 245 + " (11)"


def test_underscore_forbidden_falls_back_to_removal() -> None:
    rules = NameRules(forbidden_characters=frozenset({"_", "/", "\\"}))
    assert sanitize_name("a_b/c", rules) == "abc"


@pytest.mark.parametrize(
    ("name", "rules", "reason"),
    [
        ("  ", NameRules(), "empty name"),
        (" .. ", NameRules(), "dot names are not allowed"),
        ("x" * 251, NameRules(), "name longer than 250 bytes"),
        (".HTACCESS", NameRules(), '".HTACCESS" is a forbidden file or folder name'),
        ("Con.txt", WINDOWS, '"con" is a forbidden prefix for file or folder names'),
        ("video.PART", NameRules(), '".part" is a forbidden file type'),
        ("trailing ", WINDOWS, 'names must not end with " "'),
        ("a:b", WINDOWS, "':' is not allowed inside a file or folder name"),
        ("a\x01b", NameRules(), "'\\x01' is not allowed inside a file or folder name"),
    ],
)
def test_name_problem_gives_the_validators_reason(name: str, rules: NameRules, reason: str) -> None:
    assert name_problem(name, rules) == reason
    assert not is_acceptable(name, rules)


def test_name_problem_accepts_what_the_server_accepts() -> None:
    # Trailing dots and spaces, leading dots and a basename that only starts like "con".
    for name in ["ends with dot.", "trailing ", ".hidden", "console.log", "a:b", "😀"]:
        assert name_problem(name, NameRules()) is None


def test_mark_at_end_keeps_a_refused_extension_visible() -> None:
    assert sanitize_name("notes.part", mark_at_end=True) == "notes.part_"
    assert sanitize_name("CON.txt", WINDOWS, mark_at_end=True) == "CON_.txt"


def test_reserve_bytes_keeps_room_below_the_limit() -> None:
    assert sanitize_name("x" * 300, reserve_bytes=8) == "x" * 242
    # A fix that adds a character at the limit is cut again to stay inside the room.
    fixed = sanitize_name("x" * 300 + ".part", reserve_bytes=8, mark_at_end=True)
    assert fixed == "x" * 236 + ".part_"


def test_without_keep_extension_a_long_name_is_cut_at_its_end() -> None:
    assert sanitize_name("é" * 200 + ".jpeg", keep_extension=False) == "é" * 125


def test_a_cut_leaves_no_trailing_dot_or_space() -> None:
    assert sanitize_name("a" * 248 + ". b", keep_extension=False) == "a" * 248


def test_clean_characters_with_extra_characters_and_replacement() -> None:
    assert clean_characters("a:b/c\td", extra=":", replacement=" ") == "a b c d"
    assert clean_characters("a:b/c") == "a:b_c"
    assert clean_characters("😀x", allow_4byte_utf8=False) == "_x"


def test_cut_utf8_never_splits_a_character() -> None:
    assert cut_utf8("ééé", 5) == "éé"
    assert cut_utf8("abc", 0) == ""
    assert cut_utf8("abc", 10) == "abc"
