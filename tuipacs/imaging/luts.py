"""Lookup tables stored in DICOM (Modality LUT, VOI LUT): parsing and application.

A LUT item has ``LUTDescriptor`` = (number of entries, first stored value mapped,
bits per entry) and ``LUTData``. Values below the first mapped value use the first
entry and values past the end use the last entry (PS3.3 C.11.1.1, C.11.2.1.1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset


@dataclass(frozen=True, eq=False)
class LookupTable:
    """A parsed Modality or VOI LUT."""

    first_mapped: int
    bits: int
    table: np.ndarray
    explanation: str = ""

    @property
    def size(self) -> int:
        """Number of entries."""
        return int(self.table.size)

    @property
    def output_max(self) -> int:
        """Largest output value the descriptor's bit depth allows (2**bits - 1)."""
        return (1 << self.bits) - 1

    def indices(self, values: np.ndarray) -> np.ndarray:
        """Table index for each input value (clamped to the table), as intp."""
        idx = np.floor(values) if values.dtype.kind == "f" else values
        idx = np.asarray(idx, dtype=np.int64) - self.first_mapped
        return np.clip(idx, 0, self.size - 1).astype(np.intp, copy=False)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """The table's output for each input value."""
        return self.table[self.indices(values)]


def _descriptor(item: Dataset, signed_input: bool) -> tuple[int, int, int] | None:
    """(entries, first mapped, bits) from LUTDescriptor, or None when malformed."""
    raw = item.get("LUTDescriptor")
    values = list(raw) if raw is not None and not isinstance(raw, bytes | str) else []
    if isinstance(raw, bytes) and len(raw) >= 6:
        values = [int.from_bytes(raw[i : i + 2], "little") for i in (0, 2, 4)]
    if len(values) < 3:
        return None
    count, first, bits = (int(v) for v in values[:3])
    count = count or 65536
    if signed_input and first >= 32768:
        first -= 65536
    return count, first, bits


def _table(item: Dataset, count: int, bits: int, little_endian: bool) -> np.ndarray | None:
    """The LUT entries as an integer array, or None when the data does not fit."""
    elem = item.get("LUTData")
    if elem is None:
        return None
    value = elem.value if hasattr(elem, "value") else elem
    if isinstance(value, bytes):
        if len(value) >= 2 * count:
            order = "<" if little_endian else ">"
            data = np.frombuffer(value[: 2 * count], dtype=f"{order}u2")
        elif len(value) >= count:
            data = np.frombuffer(value[:count], dtype=np.uint8)
        else:
            return None
    else:
        seq = [value] if isinstance(value, int) else list(value)
        if len(seq) < count:
            return None
        data = np.asarray(seq[:count], dtype=np.int64)
    table = data.astype(np.int32)
    if bits <= 8 and table.max(initial=0) > 255:
        table = table & 0xFF
    return table


def parse_lut(
    item: Dataset, *, signed_input: bool = False, little_endian: bool = True
) -> LookupTable | None:
    """Parse one LUT sequence item; ``None`` when it is malformed."""
    desc = _descriptor(item, signed_input)
    if desc is None:
        return None
    count, first, bits = desc
    table = _table(item, count, bits, little_endian)
    if table is None:
        return None
    if bits < 1 or bits > 16:
        bits = max(8, int(table.max(initial=0)).bit_length())
    explanation = str(item.get("LUTExplanation", "") or "")
    return LookupTable(first_mapped=first, bits=bits, table=table, explanation=explanation)


def little_endian_of(ds: Dataset) -> bool:
    """Whether ``ds`` was read from a little endian encoding (True when unknown)."""
    try:
        encoding = ds.original_encoding
    except AttributeError:
        return True
    little = encoding[1] if encoding else None
    return True if little is None else bool(little)
