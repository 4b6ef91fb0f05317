"""The sanitiser of text from files and peers (issue 12, finding 3): what it replaces, what
it keeps, a seeded fuzz test, JSON escaping and log records."""

from __future__ import annotations

import io
import json
import logging
import random
import re
import sys
import unicodedata

import pytest

from tuipacs import safe_text
from tuipacs.safe_text import PLACEHOLDER, clean, clean_block, escape_json

UNSAFE_CATEGORIES = ("Cc", "Cf", "Cs", "Zl", "Zp")
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
#: Unassigned in Python 3.11's Unicode 14, replaced as format characters (Unicode 15).
RESERVED = {chr(c) for c in (0x2065, *range(0x13439, 0x13440))}


def test_every_c0_control_del_and_c1_control_is_replaced() -> None:
    controls = [chr(c) for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0))]
    for char in controls:
        assert clean(f"a{char}b") == f"a{PLACEHOLDER}b", repr(char)


def test_the_clipboard_attack_of_the_issue_is_defused() -> None:
    name = "\x1b]52;c;cm0gLXJmIH4K\x1b\\X"
    assert clean(name) == f"{PLACEHOLDER}]52;c;cm0gLXJmIH4K{PLACEHOLDER}\\X"
    # the same as 8-bit C1 controls: OSC ... ST, CSI, DCS
    assert clean("\x9d52;c;x\x9c\x9b2J\x90q\x9c") == "�52;c;x��2J�q�"


def test_bidi_overrides_isolates_and_marks_are_replaced() -> None:
    for char in [*BIDI, "\u200e", "\u200f", "\u061c"]:
        assert clean(f"12{char}34") == f"12{PLACEHOLDER}34", hex(ord(char))


def test_invisible_format_characters_separators_and_surrogates_are_replaced() -> None:
    for char in ("\u200b", "\u2060", "\ufeff", "\u00ad", "\U000e0041", "\u2028", "\u2029"):
        assert clean(f"A{char}B") == f"A{PLACEHOLDER}B", hex(ord(char))
    for char in ("\ud800", "\udfff", "\udc80"):  # lone surrogates (undecodable bytes)
        assert clean(f"A{char}B") == f"A{PLACEHOLDER}B"


def test_one_placeholder_per_character() -> None:
    assert clean("\x1b\x1b\n\r") == PLACEHOLDER * 4


@pytest.mark.parametrize(
    "text",
    [
        "DOE^JOHN^Q^^",
        "Müller^Jürgen",
        "山田^太郎=やまだ^たろう",
        "Ελένη Παπαδοπούλου",
        "Øyvind Åsmund Ærø",
        "CT\\SR\\PR",
        "T1 [Gd] <axial> {50%} ~ | & $ # @ !",
        "  padded  ",
        "Straße ﬁ ＣＴ",
        "",
        "\u3000山田\u00a0太郎",  # ideographic and no-break spaces are spaces
        "葛\U000e0100城",  # an ideographic variation sequence (Japanese names)
        "e\u0301",  # a combining accent
        "\ue000",  # private use
    ],
)
def test_legitimate_text_is_kept_exactly(text: str) -> None:
    assert clean(text) == text


def test_printable_text_is_returned_as_it_is() -> None:
    text = "DOE^JOHN 1.2.840.10008"
    assert clean(text) is text


def test_joiners_are_kept_between_letters_of_scripts_that_need_them() -> None:
    persian = "\u0645\u06cc\u200c\u067e\u0648\u0631"  # a Persian name with ZWNJ
    devanagari = "\u0915\u094d\u200d\u0937"  # KA, VIRAMA, ZWJ, SSA
    assert clean(persian) == persian
    assert clean(devanagari) == devanagari
    # in Latin names and IDs they only make two values look alike
    assert clean("DOE\u200dJOHN") == f"DOE{PLACEHOLDER}JOHN"
    assert clean("12\u200c34") == f"12{PLACEHOLDER}34"
    assert clean("\u200c\u0645") == f"{PLACEHOLDER}\u0645"  # at an edge
    assert clean("\u0645\u200d") == f"\u0645{PLACEHOLDER}"
    assert clean("\u0645\u200d\u200d\u0645") == f"\u0645{PLACEHOLDER * 2}\u0645"


def test_the_format_class_covers_every_format_character_of_this_python() -> None:
    """The hard-coded class must not miss a Cf character of the Unicode database in use."""
    missing = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) == "Cf"
        and chr(code) not in "\u200c\u200d"
        and clean(chr(code)) != PLACEHOLDER
    ]
    assert missing == []


def _random_text(rng: random.Random, length: int) -> str:
    """Code points from everywhere, weighted towards controls, bidi and format characters."""
    pools = [
        (0x00, 0xA0),
        (0x2000, 0x2070),
        (0x0590, 0x0700),
        (0x0900, 0x0980),
        (0x3000, 0x3100),
        (0xD800, 0xE000),
        (0xFE00, 0x10000),
        (0xE0000, 0xE0080),
        (0x00, sys.maxunicode + 1),
    ]
    chars = []
    for _ in range(length):
        low, high = rng.choice(pools)
        chars.append(chr(rng.randrange(low, high)))
    return "".join(chars)


def _joiner_in_context(out: str, index: int) -> bool:
    """Is out[index] a joiner kept between two letters or marks of joining scripts?"""
    if out[index] not in "\u200c\u200d" or not 0 < index < len(out) - 1:
        return False
    return all(
        ord(c) >= 0x0590 and unicodedata.category(c)[0] in "LM"
        for c in (out[index - 1], out[index + 1])
    )


def test_fuzz_random_code_points() -> None:
    rng = random.Random(20240612)
    for _ in range(3000):
        text = _random_text(rng, rng.randrange(0, 40))
        out = clean(text)
        assert len(out) == len(text)  # one for one: nothing swallowed, nothing added
        for index, (before, after) in enumerate(zip(text, out, strict=True)):
            assert after in (before, PLACEHOLDER)
            if unicodedata.category(after) in UNSAFE_CATEGORIES:
                assert _joiner_in_context(out, index), (repr(text), index)
            if after == PLACEHOLDER and before != PLACEHOLDER:
                assert unicodedata.category(before) in UNSAFE_CATEGORIES or before in RESERVED
        assert clean(out) == out  # stable
        out.encode("utf-8")  # no lone surrogate left: it can be written anywhere


def test_fuzz_json_keeps_the_data_and_holds_no_raw_control() -> None:
    rng = random.Random(7)
    for _ in range(1000):
        text = _random_text(rng, rng.randrange(0, 30))
        # a lone high surrogate right before a lone low one reads back as their pair's
        # character from any JSON (undecodable bytes give low surrogates only)
        text = re.sub("(?<=[\ud800-\udbff])(?=[\udc00-\udfff])", "-", text)
        data = {"value": text, "n": [1, "x\x1b"]}
        document = escape_json(json.dumps(data, indent=2, ensure_ascii=False))
        assert json.loads(document) == data
        assert [c for c in document if c != "\n" and clean(c) != c] == []
        document.encode("utf-8")


def test_json_escapes_c1_bidi_del_and_surrogates_but_keeps_text() -> None:
    data = ["\x9b2J", "\u202e", "\x7f", "\ud800", "\U000e0041", "Müller 山田"]
    document = escape_json(json.dumps(data, ensure_ascii=False))
    assert document == (
        '["\\u009b2J", "\\u202e", "\\u007f", "\\ud800", "\\udb40\\udc41", "Müller 山田"]'
    )
    assert json.loads(document) == data


def test_clean_block_indents_every_line_so_none_looks_like_a_record() -> None:
    text = "Traceback (most recent call last):\nValueError: 1.2\x1b[2J\n2024-01-01 INFO forged"
    assert clean_block(text).split("\n") == [
        "  Traceback (most recent call last):",
        f"  ValueError: 1.2{PLACEHOLDER}[2J",
        "  2024-01-01 INFO forged",
    ]


# -- log records -----------------------------------------------------------------------------


def _handler() -> tuple[logging.Handler, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    safe_text.protect_handler(handler)
    return handler, stream


def _logger(handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger("tuipacs.test_safe_text")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def test_a_record_with_a_newline_and_esc_in_its_argument_is_one_clean_line() -> None:
    handler, stream = _handler()
    uid = "1.2.3\n2024-06-12 10:00:00,000 WARNING tuipacs.server: forged\x1b]0;title\x07"
    _logger(handler).warning("refusing %s: %s", uid, "bad\r\x9b2J")
    lines = stream.getvalue().splitlines()
    assert lines == [
        "WARNING tuipacs.test_safe_text: refusing 1.2.3�2024-06-12 10:00:00,000 WARNING "
        "tuipacs.server: forged�]0;title�: bad��2J"
    ]


def test_a_traceback_is_cleaned_and_indented() -> None:
    handler, stream = _handler()
    try:
        raise ValueError("1.2\n2024-06-12 INFO forged\x1b[2J")
    except ValueError:
        _logger(handler).exception("storing %s failed", "1.2\x1b")
    text = stream.getvalue()
    assert "\x1b" not in text
    first, *rest = text.rstrip("\n").split("\n")
    assert first == "ERROR tuipacs.test_safe_text: storing 1.2� failed"
    assert rest and all(line.startswith("  ") for line in rest)
    assert "  2024-06-12 INFO forged�[2J" in rest


def test_every_handler_sees_the_record_cleaned_once() -> None:
    one, first = _handler()
    two, second = _handler()
    logger = _logger(one)
    logger.addHandler(two)
    try:
        raise KeyError("x")
    except KeyError:
        logger.exception("a\nb")
    assert first.getvalue() == second.getvalue()
    assert first.getvalue().count("    File") == second.getvalue().count("    File") >= 1
    assert "\n    File" in first.getvalue() and "\n      File" not in first.getvalue()


def test_bad_log_arguments_still_give_one_clean_line() -> None:
    handler, stream = _handler()
    _logger(handler).warning("%d images from %s", "x\x1b")
    assert stream.getvalue().count("\n") == 1 and "\x1b" not in stream.getvalue()


def test_protect_logging_covers_root_handlers_and_the_last_resort(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    root_handler = logging.StreamHandler(stream)
    monkeypatch.setattr(logging.getLogger(), "handlers", [root_handler])
    last_resort = logging.lastResort
    assert last_resort is not None
    monkeypatch.setattr(last_resort, "filters", list(last_resort.filters))
    safe_text.protect_logging()
    safe_text.protect_logging()  # once is enough; twice changes nothing
    for handler in (root_handler, last_resort):
        assert [type(f) for f in handler.filters].count(safe_text.SafeLogFilter) == 1
    logging.getLogger("test_safe_text_root").warning("uid %s", "1.2\n\x1b[2J")
    assert stream.getvalue() == "uid 1.2��[2J\n"
