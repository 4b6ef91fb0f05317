"""The one raw element scanner: bounds-checked on any input (seeded fuzz), strict VRs."""

from __future__ import annotations

import random
import struct

import pytest

from tuipacs import elements


def _explicit(tag: int, vr: bytes, value: bytes) -> bytes:
    group, elem = tag >> 16, tag & 0xFFFF
    if vr in elements.LONG_VRS:
        return (
            struct.pack("<HH", group, elem) + vr + b"\0\0" + struct.pack("<L", len(value)) + value
        )
    return struct.pack("<HH", group, elem) + vr + struct.pack("<H", len(value)) + value


def test_header_reads_short_and_long_forms() -> None:
    data = _explicit(0x0020000D, b"UI", b"1.2.3\0") + _explicit(0x7FE00010, b"OB", b"\1\2")
    assert elements.header(data, 0, True) == (0x0020000D, 6, 8, b"UI")
    assert elements.header(data, 14, True) == (0x7FE00010, 2, 26, b"OB")


def test_strict_refuses_unknown_vrs() -> None:
    data = _explicit(0x00080018, b"Ui", b"1.2\0")
    assert elements.header(data, 0, True)[3] == b"Ui"
    with pytest.raises(elements.ElementError, match="unknown value representation"):
        elements.header(data, 0, True, strict=True)


def test_scan_stops_cleanly_inside_an_element() -> None:
    data = _explicit(0x0020000D, b"UI", b"1.2.3\0") + _explicit(0x0020000E, b"UI", b"4.5\0")
    wanted = frozenset({0x0020000D, 0x0020000E})
    assert elements.scan_elements(data, True, wanted) == (
        {0x0020000D: b"1.2.3\0", 0x0020000E: b"4.5\0"},
        True,
    )
    values, done = elements.scan_elements(data[:-2], True, wanted)
    assert values == {0x0020000D: b"1.2.3\0"} and not done


def test_dataset_offset_after_the_file_meta() -> None:
    meta = _explicit(0x00020010, b"UI", b"1.2.840.10008.1.2.1\0")
    head = b"\0" * 128 + b"DICM" + meta + _explicit(0x00080018, b"UI", b"1.2\0")
    assert elements.dataset_offset(head, len(head)) == 132 + len(meta)
    assert elements.dataset_offset(b"no preamble", 11) == 0


@pytest.mark.parametrize("explicit", [True, False])
def test_random_bytes_raise_only_element_errors(explicit: bool) -> None:
    rng = random.Random(1204)
    base = _explicit(0x0020000D, b"UI", b"1.2.3\0") + _explicit(0x00081140, b"SQ", b"")
    for _ in range(3000):
        data = bytearray(base + rng.randbytes(rng.randint(0, 64)))
        for _ in range(rng.randint(0, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            elements.scan_elements(bytes(data), explicit, frozenset({0x0020000D}))
            elements.dataset_offset(bytes(data), len(data))
            elements.skip_sequence(bytes(data), rng.randrange(len(data)), explicit, True)
        except elements.ElementError:
            pass


def test_deeply_nested_sequences_are_an_error_not_a_recursion_crash() -> None:
    """10,000 nested undefined-length sequences in 200 KB: ElementError, not RecursionError."""
    opening = struct.pack("<HH", 0x0008, 0x1140) + b"SQ\0\0" + struct.pack("<L", 0xFFFFFFFF)
    item = struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF)
    data = (opening + item) * 10_000
    with pytest.raises(elements.ElementError, match="nested deeper"):
        elements.scan_elements(data, True, frozenset({0x0020000D}))
