"""Building the write-back objects from the source images' headers (pure: no Textual).

- :func:`build_kos`: a Key Object Selection document titled "Of Interest" (113000, DCM)
  whose IMAGE items reference the flagged images (with their frame numbers for a
  multi-frame image).
- :func:`build_gsps`: a Grayscale Softcopy Presentation State for the images of one series
  with measurements: a POLYLINE (length, angle, rectangle) or ELLIPSE per measurement in
  PIXEL units, a text object with the measurement's value beside it, and the window the
  reader was using as the presentation's VOI. Colour images (an ultrasound cine) get a Color
  Softcopy Presentation State instead (a grayscale one cannot reference them; no window).

Measurement points are source pixel centres (column, row) counted from 0
(:mod:`tuipacs.view.measure`); DICOM PIXEL units put the top left corner of the first pixel
at 0\\0, so a centre is the point + 0.5. The patient and study modules come from the source
headers (highdicom copies them); the UIDs are new.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuipacs.safe_text import clean
from tuipacs.view.measure import (
    ANGLE,
    ELLIPSE,
    LENGTH,
    TITLES,
    Measurement,
    angle,
    calibration_of,
    length,
    roi_box,
    value,
)

if TYPE_CHECKING:
    import numpy as np
    from pydicom.dataset import Dataset

    from tuipacs.imaging.voi import Window

MANUFACTURER = "tuipacs"
GSPS_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"
"""Grayscale Softcopy Presentation State Storage."""
MAX_TEXT = 64
"""Characters of a measurement's text in a text object (Unformatted Text Value is ST)."""
LAYER = "MEASUREMENTS"


class WriteBackError(ValueError):
    """The objects cannot be built from these images (one line for the reader)."""


@dataclass
class Annotated:
    """The measurements of one image (``frame`` counted from 0) of a series."""

    dataset: Dataset
    frame: int
    measurements: tuple[Measurement, ...]


@dataclass
class SeriesMarks:
    """What one series' GSPS holds: its annotated images and the window the reader used."""

    images: list[Annotated] = field(default_factory=list)
    window: Window | None = None


def _frames(ds: Dataset) -> int:
    """The number of frames of ``ds`` (1 when absent or unusable)."""
    try:
        count = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        return 1
    return max(1, count)


def build_kos(
    images: Sequence[tuple[Dataset, Sequence[int]]],
    series_number: int,
    instance_number: int = 1,
) -> Dataset:
    """A KOS referencing ``images``: (header, frames counted from 0) each; a multi-frame
    image gets its frame numbers (1-based) in the reference. WriteBackError when there is
    no image or they are not all of one study."""
    from highdicom.ko import KeyObjectSelection, KeyObjectSelectionDocument
    from pydicom.sr.codedict import codes
    from pydicom.uid import generate_uid

    if not images:
        raise WriteBackError("no key images to save: flag some with * first")
    datasets = [ds for ds, _frames_ in images]
    _one_study(datasets)
    content = KeyObjectSelection(
        document_title=codes.DCM.OfInterest,
        referenced_objects=datasets,
        description="key images flagged in tuipacs",
    )
    try:
        kos = KeyObjectSelectionDocument(
            evidence=datasets,
            content=content,
            series_instance_uid=generate_uid(),
            series_number=series_number,
            sop_instance_uid=generate_uid(),
            instance_number=instance_number,
            manufacturer=MANUFACTURER,
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise WriteBackError(f"cannot build the key object selection: {exc}") from exc
    frames_of = {ds.SOPInstanceUID: (frames, _frames(ds)) for ds, frames in images}
    for item in kos.ContentSequence:
        if item.get("ValueType") != "IMAGE":
            continue
        for ref in item.ReferencedSOPSequence:
            frames, count = frames_of.get(ref.ReferencedSOPInstanceUID, ((), 1))
            numbers = sorted({f + 1 for f in frames if 0 <= f < count})
            if count > 1 and numbers:
                ref.ReferencedFrameNumber = numbers
    return kos


def _one_study(datasets: Sequence[Dataset]) -> None:
    studies = {str(ds.get("StudyInstanceUID", "")) for ds in datasets}
    if len(studies) != 1 or "" in studies:
        raise WriteBackError("the images are not all of one study: nothing written")


def _spacing(ds: Dataset) -> object:
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        if keyword in ds:
            return tuple(ds[keyword].value or ())
    return None


def measurement_text(item: Measurement, ds: Dataset) -> str:
    """One line for ``item`` on the image ``ds``: ``Length 12.3 mm``, ``Angle 45.0°``,
    ``Ellipse 20.0 x 10.0 mm`` (the ROI's box), in px without calibration."""
    kind = "PixelSpacing" if "PixelSpacing" in ds else "ImagerPixelSpacing"
    cal = calibration_of(_spacing(ds), kind)
    points = item.points
    if item.kind == LENGTH:
        text = f"{value(length(cal, points[0], points[1]))} {cal.unit}"
    elif item.kind == ANGLE:
        degrees = angle(cal, points[0], points[1], points[2])
        text = "no angle" if degrees is None else f"{value(degrees)} deg"
    else:
        box = roi_box(points[0], points[1])
        width, height = box.right - box.left, box.bottom - box.top
        if cal.spacing is not None:
            width, height = width * cal.spacing[1], height * cal.spacing[0]
        text = f"{value(width)} x {value(height)} {cal.unit}"
    return clean(f"{TITLES[item.kind]} {text}")[:MAX_TEXT]


def _clamp(point: tuple[float, float], columns: int, rows: int) -> tuple[float, float]:
    """A source point (pixel centre from 0) in DICOM PIXEL units, inside the image."""
    x = min(max(point[0] + 0.5, 0.0), float(columns))
    y = min(max(point[1] + 0.5, 0.0), float(rows))
    return x, y


def graphic_points(item: Measurement, columns: int, rows: int) -> tuple[str, np.ndarray]:
    """(graphic type, points (column, row) in PIXEL units) of ``item``: POLYLINE for a
    length and an angle, a closed POLYLINE for a rectangle, ELLIPSE (major then minor axis
    end points) for an ellipse."""
    import numpy as np

    if item.kind in (LENGTH, ANGLE):
        points = [_clamp(p, columns, rows) for p in item.points]
        return "POLYLINE", np.array(points, dtype=np.float64)
    box = roi_box(item.points[0], item.points[1])
    x0, y0 = _clamp((box.left, box.top), columns, rows)
    x1, y1 = _clamp((box.right, box.bottom), columns, rows)
    if item.kind == ELLIPSE:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        horizontal = [(x0, cy), (x1, cy)]
        vertical = [(cx, y0), (cx, y1)]
        major, minor = (horizontal, vertical) if x1 - x0 >= y1 - y0 else (vertical, horizontal)
        return "ELLIPSE", np.array(major + minor, dtype=np.float64)
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return "POLYLINE", np.array(corners, dtype=np.float64)


def _size(ds: Dataset) -> tuple[int, int]:
    try:
        columns, rows = int(ds.Columns), int(ds.Rows)
    except (AttributeError, TypeError, ValueError) as exc:
        raise WriteBackError("an annotated image has no size (Rows, Columns)") from exc
    if columns < 1 or rows < 1:
        raise WriteBackError("an annotated image has no size (Rows, Columns)")
    return columns, rows


def is_colour(datasets: Sequence[Dataset]) -> bool:
    """Are the images colour (more than one sample per pixel)?"""
    try:
        return any(int(ds.get("SamplesPerPixel", 1) or 1) > 1 for ds in datasets)
    except (TypeError, ValueError):
        return False


def _icc(datasets: Sequence[Dataset]) -> bytes | None:
    """The ICC profile of a colour presentation state: None when the images carry one (it
    is copied from them), else the sRGB profile highdicom ships."""
    import pkgutil

    if any("ICCProfile" in ds for ds in datasets):
        return None
    try:
        return pkgutil.get_data("highdicom", "_icc_profiles/sRGB_v4_ICC_preference.icc")
    except OSError as exc:
        raise WriteBackError("no colour profile for the colour images' measurements") from exc


def build_gsps(marks: SeriesMarks, series_uid: str, series_number: int, number: int) -> Dataset:
    """A GSPS (new SOP instance ``number`` of series ``series_uid``) with the measurements
    of ``marks`` (images of one series) and its window; for colour images a Color Softcopy
    Presentation State (no window). WriteBackError when there is nothing to write or the
    images cannot carry it."""
    from highdicom.pr import (
        ColorSoftcopyPresentationState,
        GraphicAnnotation,
        GraphicLayer,
        GraphicObject,
        GrayscaleSoftcopyPresentationState,
        SoftcopyVOILUTTransformation,
        TextObject,
    )
    from pydicom.uid import generate_uid

    from tuipacs import __version__

    images = [image for image in marks.images if image.measurements]
    if not images:
        raise WriteBackError("no measurements to save")
    datasets = list({image.dataset.SOPInstanceUID: image.dataset for image in images}.values())
    _one_study(datasets)
    layer = GraphicLayer(layer_name=LAYER, order=1, description="tuipacs measurements")
    annotations = []
    for image in images:
        columns, rows = _size(image.dataset)
        graphics, texts = [], []
        for item in image.measurements:
            kind, points = graphic_points(item, columns, rows)
            graphics.append(GraphicObject(kind, points, units="PIXEL"))
            anchor = (float(points[-1][0]), float(points[-1][1]))
            texts.append(
                TextObject(
                    measurement_text(item, image.dataset), units="PIXEL", anchor_point=anchor
                )
            )
        count = _frames(image.dataset)
        frame = image.frame + 1 if count > 1 and 0 <= image.frame < count else None
        annotations.append(
            GraphicAnnotation(
                referenced_images=[image.dataset],
                graphic_layer=layer,
                referenced_frame_number=frame,
                graphic_objects=graphics,
                text_objects=texts,
            )
        )
    voi = None
    window = marks.window
    if window is not None and math.isfinite(window.center) and math.isfinite(window.width):
        voi = [
            SoftcopyVOILUTTransformation(
                window_center=float(window.center),
                window_width=max(1.0, float(window.width)),
                window_explanation=clean(window.explanation or "reader")[:64] or "reader",
            )
        ]
    common: dict[str, Any] = {
        "referenced_images": datasets,
        "series_instance_uid": series_uid,
        "series_number": series_number,
        "sop_instance_uid": generate_uid(),
        "instance_number": number,
        "manufacturer": MANUFACTURER,
        "manufacturer_model_name": "tuipacs",
        "software_versions": str(__version__),
        "device_serial_number": "0",
        "content_label": "MEASUREMENTS",
        "content_description": "measurements made in tuipacs",
        "graphic_annotations": annotations,
        "graphic_layers": [layer],
    }
    try:
        if is_colour(datasets):  # a colour image has no window: a colour presentation state
            gsps: Dataset = ColorSoftcopyPresentationState(icc_profile=_icc(datasets), **common)
        else:
            gsps = GrayscaleSoftcopyPresentationState(voi_lut_transformations=voi, **common)
    except (ValueError, TypeError, AttributeError) as exc:
        raise WriteBackError(f"cannot build the presentation state: {exc}") from exc
    if "Laterality" not in gsps:  # General Series: type 2C, wanted without image laterality
        gsps.Laterality = ""
    return gsps
