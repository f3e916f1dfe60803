"""Server names for report folders and files: sanitized, unique, inside the folder."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tellakit.engine.naming import (
    assign_file_names,
    candidates,
    name_problem,
    sanitize_name,
)
from tellakit.nextcloud import names as server_names
from tellakit.nextcloud.models import NameRules
from tellakit.nextcloud.names import split_extension

WINDOWS = NameRules(
    forbidden_basenames=frozenset({"con", "prn", "aux", "nul", "com1", "lpt1"}),
    forbidden_characters=frozenset('/\\<>:"|?*'),
)


def test_slashes_and_dot_names_cannot_escape_the_folder():
    for raw in ["../../etc/passwd", "..", ".", "a/b\\c", "/", "./."]:
        name = sanitize_name(raw, NameRules(), is_file=False)
        assert "/" not in name and "\\" not in name
        assert name not in (".", "..")
        assert name_problem(name, NameRules()) is None


def test_ios_stripped_characters_and_control_chars_are_removed():
    assert sanitize_name('Riot: "day 1" <2024>?*|', NameRules(), is_file=False) == (
        "Riot day 1 2024"
    )
    assert sanitize_name("a\x00b\nc\x7f", NameRules(), is_file=False) == "a b c"


def test_reserved_names_and_extensions_are_made_acceptable():
    assert sanitize_name("con.txt", WINDOWS, is_file=True) == "con_.txt"
    assert sanitize_name("video.part", NameRules(), is_file=True) == "video.part_"
    assert sanitize_name(".htaccess", NameRules(), is_file=True) == "htaccess"


def test_long_names_leave_room_for_the_clash_suffix_and_keep_extension():
    name = sanitize_name("é" * 300 + ".jpg", NameRules(), is_file=True)
    assert name.endswith(".jpg")
    for cand, _ in zip(candidates(name, is_file=True), range(3), strict=False):
        assert len(cand.encode()) <= 250
    last = f"{split_extension(name)[0]} (10000).jpg"
    assert len(last.encode()) <= 250


def test_empty_titles_get_a_fallback():
    assert sanitize_name("  \t ", NameRules(), is_file=False) == "Untitled report"
    assert sanitize_name("???", NameRules(), is_file=True) == "file"


def test_file_clashes_resolve_like_folders_and_reserve_report_files():
    names = assign_file_names(
        ["IMG_0001.jpg", "IMG_0001.jpg", "description.txt", "Manifest.JSON", "img_0001.JPG"],
        NameRules(),
    )
    assert names == [
        "IMG_0001.jpg",
        "IMG_0001 (2).jpg",
        "description (2).txt",
        "Manifest (2).JSON",
        "img_0001 (3).JPG",
    ]


def test_folder_candidates_follow_tella_numbering():
    gen = candidates("Title", is_file=False)
    assert [next(gen) for _ in range(3)] == ["Title", "Title (2)", "Title (3)"]


PIECES = [*'ab/\\. :*?"<>|\x00\x01\x1f\x7f', "..", "😀", "é", "\u202e", "con", "nul", ".part"]
NASTY = st.lists(st.sampled_from(PIECES), max_size=40).map("".join) | st.text(max_size=300)


@settings(max_examples=300, deadline=None)
@given(NASTY, st.booleans())
def test_any_input_gives_a_valid_single_segment(raw, is_file):
    for rules in (NameRules(), WINDOWS):
        name = sanitize_name(raw, rules, is_file=is_file)
        assert name_problem(name, rules) is None
        assert "/" not in name and name not in (".", "..")
        gen = candidates(name, is_file=is_file)
        for _ in range(3):
            assert name_problem(next(gen), rules) is None


@settings(max_examples=100, deadline=None)
@given(st.lists(NASTY, max_size=8))
def test_assigned_file_names_are_unique_ignoring_case(raws):
    names = assign_file_names(raws, WINDOWS)
    assert len(names) == len(raws)
    folded = [n.casefold() for n in names]
    assert len(set(folded)) == len(folded)
    assert "description.txt" not in folded and "manifest.json" not in folded


def test_no_dot_or_space_before_a_file_extension():
    assert sanitize_name("IMG .jpg", NameRules(), is_file=True) == "IMG.jpg"
    assert sanitize_name("report..pdf", NameRules(), is_file=True) == "report.pdf"
    # Folders have no extension: the dot inside a title stays.
    assert sanitize_name("Report v1.2", NameRules(), is_file=False) == "Report v1.2"


def test_a_fixed_name_at_the_limit_keeps_the_suffix_room():
    name = sanitize_name("x" * 300 + ".part", NameRules(), is_file=True)
    assert name.endswith(".part_") and len(name.encode()) <= 250 - len(" (10000)")
    folder = sanitize_name("nul." + "x" * 300, WINDOWS, is_file=False)
    assert folder.startswith("nul_.") and len(folder.encode()) <= 250 - len(" (10000)")


def test_name_problem_adds_tellas_characters_to_the_servers_rules():
    # The server (default rules) takes ":"; Tella and Windows sync clients do not.
    assert server_names.name_problem("Org:Tella", NameRules()) is None
    assert "':'" in (name_problem("Org:Tella", NameRules()) or "")
    # The server's own reasons come through unchanged.
    assert name_problem("bad.part", NameRules()) == server_names.name_problem(
        "bad.part", NameRules()
    )
