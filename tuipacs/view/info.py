"""What the overlays and the probe show about one image, read from its header (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

from tuipacs.imaging.modality import functional_group_item
from tuipacs.imaging.viewport import spacing_source
from tuipacs.store.query import SeriesRow, StudyRow


@dataclass(frozen=True)
class FrameInfo:
    """What the overlays and the probe need to know about one image."""

    modality: str = ""
    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    sex: str = ""
    patient_age: str = ""
    """PatientAge as in the header (``063Y``), '' when absent."""
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    institution: str = ""
    series_number: str = ""
    series_description: str = ""
    instance_number: str = ""
    rows: int = 0
    columns: int = 0
    frames: int = 1
    slice_location: float | None = None
    slice_thickness: float | None = None
    position: tuple[float, float, float] | None = None
    orientation: tuple[float, ...] | None = None
    patient_orientation: tuple[str, ...] = ()
    pixel_spacing: tuple[float, float] | None = None
    spacing_kind: str = ""
    """The attribute ``pixel_spacing`` came from (``PixelSpacing``, ``ImagerPixelSpacing``,
    ``NominalScannedPixelSpacing``), '' when there is none."""
    unit: str = ""
    frame_time_ms: float | None = None
    cine_rate: float | None = None
    photometric: str = ""
    document: str = ""
    """``PDF`` for the pages of an encapsulated document ('' for images)."""


def _text(ds: Dataset, keyword: str) -> str:
    value: Any = ds.get(keyword, "")
    if value is None:
        return ""
    if type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        value = list(value)[0] if len(value) else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _floats(value: Any, count: int) -> tuple[float, ...] | None:
    if value is None or value == "":
        return None
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count else None


def _plane_value(ds: Dataset, index: int, macro: str, keyword: str) -> Any:
    """A value from the frame's functional group macro, else from the top level."""
    item = functional_group_item(ds, index, macro)
    if item is not None and keyword in item:
        return item.get(keyword)
    return ds.get(keyword)


def _patient_orientation(ds: Dataset) -> tuple[str, ...]:
    """Patient Orientation (0020,0020), e.g. ('L', 'F') for a radiograph; () if absent."""
    value = ds.get("PatientOrientation")
    if not value:
        return ()
    parts = value.split("\\") if isinstance(value, str) else list(value)
    return tuple(str(part).strip() for part in parts)


def rescale_unit(modality: str, rescale_type: str) -> str:
    """The unit of the modality values: HU for CT, else RescaleType unless 'US' (unspecified)."""
    kind = rescale_type.strip().upper()
    if modality == "CT" and kind in ("", "HU"):
        return "HU"
    return "" if kind == "US" else rescale_type.strip()


def frame_info(ds: Dataset, index: int) -> FrameInfo:
    """The overlay facts of frame ``index`` of ``ds``."""
    modality = _text(ds, "Modality").upper()
    found = spacing_source(ds, index)
    spacing, spacing_kind = found if found is not None else (None, "")
    rescale_type = _text(ds, "RescaleType")
    unit = rescale_unit(modality, rescale_type)
    position = _floats(_plane_value(ds, index, "PlanePositionSequence", "ImagePositionPatient"), 3)
    return FrameInfo(
        modality=modality,
        patient_name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        birth_date=_text(ds, "PatientBirthDate"),
        sex=_text(ds, "PatientSex"),
        patient_age=_text(ds, "PatientAge"),
        study_date=_text(ds, "StudyDate"),
        study_time=_text(ds, "StudyTime"),
        study_description=_text(ds, "StudyDescription"),
        institution=_text(ds, "InstitutionName"),
        series_number=_text(ds, "SeriesNumber"),
        series_description=_text(ds, "SeriesDescription"),
        instance_number=_text(ds, "InstanceNumber"),
        rows=int(ds.get("Rows", 0) or 0),
        columns=int(ds.get("Columns", 0) or 0),
        frames=int(_float(ds.get("NumberOfFrames")) or 1),
        slice_location=_float(ds.get("SliceLocation")),
        slice_thickness=_float(_plane_value(ds, index, "PixelMeasuresSequence", "SliceThickness")),
        position=position,  # type: ignore[arg-type]
        orientation=_floats(
            _plane_value(ds, index, "PlaneOrientationSequence", "ImageOrientationPatient"), 6
        ),
        patient_orientation=_patient_orientation(ds),
        pixel_spacing=spacing,
        spacing_kind=spacing_kind,
        unit=unit,
        frame_time_ms=_float(ds.get("FrameTime")),
        cine_rate=_float(ds.get("CineRate")) or _float(ds.get("RecommendedDisplayFrameRate")),
        photometric=_text(ds, "PhotometricInterpretation").upper(),
    )


def index_info(study: StudyRow, series: SeriesRow | None) -> FrameInfo:
    """What the archive's index knows of a study and series (no disk access): the overlays
    of an image whose header cannot be read."""
    return FrameInfo(
        modality=series.modality if series else "",
        patient_name=study.patient_name,
        patient_id=study.patient_id,
        birth_date=study.birth_date,
        sex=study.sex,
        study_date=study.study_date,
        study_time=study.study_time,
        study_description=study.description,
        series_number=series.series_number if series else "",
        series_description=series.description if series else "",
    )
