"""Patient direction labels of the image edges (L/R, A/P, H/F), from the header (pure).

The labels of the source image come from Image Orientation (Patient), else Patient
Orientation; :meth:`tuipacs.view.viewport.Orientation.edge_labels` moves them to where the
edges show after rotations and flips.
"""

from __future__ import annotations

from collections.abc import Iterable


def direction_label(vector: tuple[float, float, float], threshold: float = 0.25) -> str:
    """Patient direction letters (L/R, A/P, H/F) for a direction in patient coordinates."""
    letters = (("L", "R"), ("P", "A"), ("H", "F"))
    parts = sorted(range(3), key=lambda axis: -abs(vector[axis]))
    out = ""
    for axis in parts:
        value = vector[axis]
        if abs(value) >= threshold:
            out += letters[axis][0] if value > 0 else letters[axis][1]
    return out[:2]


def orientation_labels(iop: list[float] | None) -> tuple[str, str, str, str]:
    """(top, right, bottom, left) edge labels from ImageOrientationPatient ("" if unknown)."""
    if not iop or len(iop) != 6:
        return "", "", "", ""
    row = (float(iop[0]), float(iop[1]), float(iop[2]))
    col = (float(iop[3]), float(iop[4]), float(iop[5]))
    neg_row = (-row[0], -row[1], -row[2])
    neg_col = (-col[0], -col[1], -col[2])
    return (
        direction_label(neg_col),
        direction_label(row),
        direction_label(col),
        direction_label(neg_row),
    )


_OPPOSITE = {"L": "R", "R": "L", "A": "P", "P": "A", "H": "F", "F": "H"}


def opposite_direction(letters: str) -> str:
    """The opposite of patient direction ``letters``, letter by letter ("LP" -> "RA").

    "" when a letter is not one of L/R, A/P, H/F (e.g. the quadruped terms).
    """
    if not letters or any(letter not in _OPPOSITE for letter in letters):
        return ""
    return "".join(_OPPOSITE[letter] for letter in letters)


def patient_orientation_labels(value: object) -> tuple[str, str, str, str]:
    """(top, right, bottom, left) edge labels from Patient Orientation (0020,0020).

    ``value`` is the attribute's two values (a sequence, or one backslash-separated string):
    the direction of the rows (toward the right edge) and of the columns (toward the bottom
    edge). The left and top edges get the opposites. ("", "", "", "") if absent or odd.
    """
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str):
        parts = value.split("\\")
    elif isinstance(value, Iterable):
        parts = [str(part) for part in value]
    else:
        return "", "", "", ""
    if len(parts) != 2:
        return "", "", "", ""
    right, bottom = (part.strip().upper() for part in parts)
    if not right or not bottom:
        return "", "", "", ""
    return opposite_direction(bottom), right, bottom, opposite_direction(right)


def image_edge_labels(
    iop: tuple[float, ...] | list[float] | None, patient_orientation: object = None
) -> tuple[str, str, str, str]:
    """(top, right, bottom, left) labels of the source image, before rotations and flips.

    From ImageOrientationPatient when the image has it, else from Patient Orientation.
    """
    labels = orientation_labels(list(iop) if iop else None)
    if any(labels):
        return labels
    return patient_orientation_labels(patient_orientation)
