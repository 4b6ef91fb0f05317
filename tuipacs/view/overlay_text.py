"""The text of the viewer's corner overlays (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len

from tuipacs.imaging.voi import Window
from tuipacs.safe_text import clean
from tuipacs.view import format as fmt
from tuipacs.view.frames import Frame
from tuipacs.view.info import FrameInfo
from tuipacs.view.labels import image_edge_labels
from tuipacs.view.render import Rendered
from tuipacs.view.state import ViewerState
from tuipacs.view.viewport import Orientation

PREVIEW_MARK = "(preview)"
"""Marks a picture below full quality; the full one follows when the motion stops."""


@dataclass(frozen=True)
class Corners:
    """Four blocks of lines: top-left, top-right, bottom-left, bottom-right."""

    top_left: str
    top_right: str
    bottom_left: str
    bottom_right: str


def _lines(*lines: str) -> str:
    """The non-empty ``lines``, each cleaned (:func:`tuipacs.safe_text.clean`): a newline
    inside a value cannot add an overlay line, nor an escape sequence reach the terminal."""
    return "\n".join(clean(line) for line in lines if line)


def patient_block(info: FrameInfo, masked: bool) -> str:
    """Name, ID, birth date and sex (masked on request)."""
    if masked:
        return _lines(f"{fmt.MASK}", f"ID: {fmt.MASK}", f"DOB: {fmt.MASK}")
    birth = fmt.dicom_date(info.birth_date)
    facts = [f"DOB: {birth}" if birth else "", info.sex, patient_age(info)]
    return _lines(
        fmt.person_name(info.patient_name) or "(no name)",
        f"ID: {info.patient_id}" if info.patient_id else "",
        "  ".join(fact for fact in facts if fact),
    )


AGE_UNITS = {"D": "d", "W": "w", "M": "mo", "Y": "y"}


def patient_age(info: FrameInfo) -> str:
    """The age at the study: PatientAge (``063Y``: ``63 y``), else from the birth and study
    dates; '' when neither is readable."""
    text = info.patient_age.strip().upper()
    if len(text) == 4 and text[:3].isdigit() and text[3] in AGE_UNITS:
        return f"{int(text[:3])} {AGE_UNITS[text[3]]}"
    born, seen = info.birth_date.strip(), info.study_date.strip()
    if not (len(born) == len(seen) == 8 and born.isdigit() and seen.isdigit()):
        return ""
    years = int(seen[:4]) - int(born[:4]) - (seen[4:] < born[4:])
    return f"{years} y" if 0 <= years < 150 else ""


def study_block(info: FrameInfo, masked: bool) -> str:
    """Study description and date, series number and description."""
    when = fmt.dicom_date(info.study_date)
    if info.study_time:
        when = f"{when} {fmt.dicom_time(info.study_time)}"
    series = f"Se: {info.series_number}" if info.series_number else ""
    if info.series_description:
        series = f"{series} {info.series_description}".strip()
    return _lines(
        "" if masked else info.institution,
        info.study_description,
        when,
        series,
    )


def image_block(info: FrameInfo, state: ViewerState) -> str:
    """Image n of N, slice position and thickness, matrix size; a reformat's plane and slab
    (its planes are counted, its position is the plane's)."""
    image = f"Im: {state.index + 1}/{state.count}"
    if info.document:  # the pages of an encapsulated document
        image = f"{info.document} page {state.index + 1}/{state.count}"
    elif info.instance_number:
        image += f"  (#{info.instance_number})"
    position = ""  # the slice location, else the position along z: "Loc" either way
    if info.slice_location is not None:
        position = f"Loc: {fmt.number(info.slice_location)} mm"
    elif info.position is not None:
        position = f"Loc: {fmt.number(info.position[2])} mm"
    if info.slice_thickness:
        position = f"{position}  Thk: {fmt.number(info.slice_thickness)} mm".strip()
    matrix = f"{info.columns}x{info.rows}" if info.rows else ""
    return _lines(state.plane, image, position, f"{info.modality} {matrix}".strip())


def window_title(name: str, window: Window) -> str:
    """What the overlay calls a chosen window: its explanation (LUNG, a file's own name).

    Nothing for the file's default window and for a window moved by hand.
    """
    if name in ("file", "custom"):
        return ""
    title = window.explanation.strip()
    if not title and name.startswith("file") and name[4:].isdigit():
        title = f"file {name[4:]}"
    return title or name


def fps_text(rate: float) -> str:
    """A frame rate as the rate keys set it: whole numbers from 10 fps (29.97: ``30``, not
    ``30.0``), one decimal below."""
    return fmt.number(round(rate)) if rate >= 10 else fmt.number(round(rate, 1))


def display_block(
    state: ViewerState,
    window: Window | None,
    zoom_percent: float,
    probe: str,
    voi: str = "",
    cine_note: bool = False,
    preview: bool = False,
) -> str:
    """Window (or ``voi``, e.g. a VOI LUT), zoom, orientation changes, cine, probe value
    (its lines separated by newlines, each cleaned).

    The cine rate shows while cine plays, and with ``cine_note`` (the rate just changed)
    while it is paused. ``preview`` marks a picture sent below full quality (a slow link).
    """
    if voi:
        wl = voi
    elif window is not None:
        name = window_title(state.window_name, window)
        wl = f"WL: {fmt.number(window.center)} WW: {fmt.number(window.width)}"
        wl += f" {name}" if name else ""
    else:
        wl = "colour"
    if state.invert:
        wl += " inv"
    view = f"Zoom: {zoom_percent:.0f}%"
    turns = []
    if state.rotation:
        turns.append(f"rot {state.rotation}°")
    if state.flip_h:
        turns.append("flip H")
    if state.flip_v:
        turns.append("flip V")
    if turns:
        view += "  " + " ".join(turns)
    if preview:
        view += f"  {PREVIEW_MARK}"
    cine = ""
    if state.cine or cine_note:
        cine = f"Cine {fps_text(state.cine_rate)} fps" + ("" if state.cine else " (paused)")
    return _lines(*probe.split("\n"), cine, view, wl)


def corners(
    info: FrameInfo,
    state: ViewerState,
    window: Window | None,
    zoom_percent: float,
    probe: str = "",
    voi: str = "",
    cine_note: bool = False,
    preview: bool = False,
) -> Corners:
    """All four corner texts for one image."""
    return Corners(
        patient_block(info, state.masked),
        study_block(info, state.masked),
        image_block(info, state),
        display_block(state, window, zoom_percent, probe, voi, cine_note, preview),
    )


def viewer_corners(
    info: FrameInfo,
    state: ViewerState,
    frame: Frame | None,
    rendered: Rendered | None,
    zoom_percent: float,
    probe: str = "",
    cine_note: bool = False,
    preview: bool = False,
) -> Corners:
    """The corners of the viewer showing ``rendered`` of ``frame`` (None: nothing shown):
    "VOI LUT" instead of a window when the file's VOI LUT was applied."""
    lut = (
        frame is not None
        and state.window_name == "file"
        and rendered is not None
        and rendered.window is None
        and not frame.color
    )
    window = None if lut else state.window
    voi = "VOI LUT" if lut else ""
    return corners(info, state, window, zoom_percent, probe, voi, cine_note, preview)


def edge_labels(info: FrameInfo | None, orientation: Orientation) -> tuple[str, str, str, str]:
    """(top, right, bottom, left) patient direction labels as the picture is shown, cleaned."""
    if info is None:
        return "", "", "", ""
    source = image_edge_labels(info.orientation, info.patient_orientation)
    top, right, bottom, left = orientation.edge_labels(source)
    return clean(top), clean(right), clean(bottom), clean(left)


def clip_block(text: str, width: int) -> str:
    """Every line of ``text`` cut to ``width`` cells (so that none wraps)."""
    return "\n".join(fmt.clip(line, width) for line in text.split("\n"))


def block_width(text: str) -> int:
    """The width in terminal cells of the widest line of ``text``."""
    return max((cell_len(line) for line in text.split("\n")), default=0) if text else 0


def corner_width(viewport_width: int, padding: int = 2) -> int:
    """The cells a corner block's text may use: the corners of one edge never meet.

    Each corner gets at most half the viewport, less one column between them and its own
    ``padding``.
    """
    return max(1, (viewport_width - 1) // 2 - padding)
