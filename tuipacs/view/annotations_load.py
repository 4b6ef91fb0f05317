"""A study's presentation states, segmentations, structure sets and SR measurement reports
read from the archive (no Textual; run in a worker thread: it reads files).

Bounded: at most :data:`MAX_OBJECTS` annotation objects of at most :data:`MAX_OBJECT_BYTES`
each, and the geometry of at most :data:`MAX_IMAGES` images. Each object that cannot be
read adds one line to :attr:`StudyAnnotations.problems`; none stops the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pydicom

from tuipacs.imaging.errors import short_reason
from tuipacs.store.archive import Archive
from tuipacs.store.query import InstanceRow, list_instances, list_series
from tuipacs.view.annotations import (
    ANNOTATION_CLASSES,
    GSPS_CLASS,
    RTSTRUCT_CLASS,
    SEG_CLASS,
    StudyAnnotations,
    add_gsps,
)
from tuipacs.view.annotations_seg import ImagePlane, add_rtstruct, add_seg, plane_of
from tuipacs.view.annotations_sr import SR_CLASSES, add_sr

MAX_OBJECTS = 32
"""Annotation objects (GSPS, SEG, RTSTRUCT, SR) read from one study."""
MAX_REPORT_BYTES = 8 * 1024 * 1024
"""Measurement reports (SR) read from one study, in all: pydicom parses an SR's nested items
at about 1.6 MiB a second, and a real TID 1500 report is a few KiB."""
MAX_OBJECT_BYTES = 256 * 1024 * 1024
"""Largest annotation object file read."""
MAX_IMAGES = 5000
"""Images whose geometry is read (for SEG positions and RTSTRUCT contours)."""
GEOMETRY_TAGS = [
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "Rows",
    "Columns",
    "SliceThickness",
]

_KINDS = {
    GSPS_CLASS: "presentation state",
    SEG_CLASS: "segmentation",
    RTSTRUCT_CLASS: "structure set",
    **{sr_class: "measurement report" for sr_class in SR_CLASSES},
}


@dataclass
class LoadedAnnotations:
    """A study's annotations, and the SOP Instance UID of each image file (by path)."""

    study: StudyAnnotations = field(default_factory=StudyAnnotations)
    sop_by_path: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    """(rows, columns) of each image by SOP Instance UID."""


def _planes(images: list[InstanceRow]) -> list[ImagePlane]:
    """The geometry of the single-frame images (their headers only)."""
    planes: list[ImagePlane] = []
    for row in images[:MAX_IMAGES]:
        if row.frames > 1:
            continue
        try:
            header = pydicom.dcmread(row.path, stop_before_pixels=True, specific_tags=GEOMETRY_TAGS)
        except Exception:  # an unreadable image simply has no plane
            continue
        plane = plane_of((row.sop_uid, 0), header)
        if plane is not None:
            planes.append(plane)
    return planes


def load_study(archive: Archive, study_uid: str) -> LoadedAnnotations:
    """Every GSPS, SEG, RTSTRUCT and SR (its image regions) of study ``study_uid``, bounded
    (module docstring)."""
    loaded = LoadedAnnotations()
    study = loaded.study
    objects: list[InstanceRow] = []
    images: list[InstanceRow] = []
    for series in list_series(archive, study_uid):
        for row in list_instances(archive, series.series_uid):
            if row.sop_class_uid in ANNOTATION_CLASSES or row.sop_class_uid in SR_CLASSES:
                objects.append(row)
            else:
                images.append(row)
                loaded.sop_by_path[str(row.path)] = row.sop_uid
                if row.rows and row.columns:
                    loaded.sizes[row.sop_uid] = (row.rows, row.columns)
    if not objects:
        return loaded
    if len(objects) > MAX_OBJECTS:
        study.problems.append(
            f"the study has {len(objects)} annotation objects: the first {MAX_OBJECTS} are shown"
        )
        objects = objects[:MAX_OBJECTS]
    needs_planes = any(o.sop_class_uid in (SEG_CLASS, RTSTRUCT_CLASS) for o in objects)
    planes = _planes(images) if needs_planes else []
    known = {row.sop_uid for row in images}
    report_bytes = 0
    for row in objects:
        kind = _KINDS[row.sop_class_uid]
        if row.file_size > MAX_OBJECT_BYTES:
            study.problems.append(f"a {kind} of {row.file_size >> 20} MiB is too large: left out")
            continue
        if row.sop_class_uid in SR_CLASSES:
            report_bytes += row.file_size
            if report_bytes > MAX_REPORT_BYTES:
                limit = MAX_REPORT_BYTES >> 20
                study.problems.append(f"measurement reports over {limit} MiB in all: left out")
                continue
        try:
            ds = pydicom.dcmread(row.path)
            if row.sop_class_uid == GSPS_CLASS:
                add_gsps(study, ds)
            elif row.sop_class_uid == SEG_CLASS:
                add_seg(study, ds, planes, known)
            elif row.sop_class_uid in SR_CLASSES:
                add_sr(study, ds)
            else:
                add_rtstruct(study, ds, planes)
        except Exception as exc:  # one bad object: one line, the others still load
            study.problems.append(f"a {kind} cannot be read: {short_reason(exc)}")
    return loaded
