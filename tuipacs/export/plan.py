"""What an export takes from the archive, and how it is asked for.

:func:`plan_export` reads the archive's index (in the caller's thread: the index belongs to
it); :func:`tuipacs.export.run.run_export` then needs only the plan, so it can run in a
worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from tuipacs.export.anonymize import AnonymizeOptions
    from tuipacs.store.archive import Archive

Format = Literal["dicom", "dicomdir", "zip", "png"]
FORMATS: tuple[Format, ...] = ("dicom", "dicomdir", "zip", "png")


class ExportError(Exception):
    """An export that cannot go on: one line saying what and what to do."""


@dataclass(frozen=True)
class ExportItem:
    """One archived file of the export: which series (1-based, in the study's order),
    which image of it (1-based, reading order), its frames and whether it is an image."""

    path: Path
    series: int
    number: int
    frames: int
    image: bool
    size: int


@dataclass(frozen=True)
class ExportPlan:
    """The files of a study (or of some of its series) to export."""

    study_uid: str
    items: tuple[ExportItem, ...]

    @property
    def bytes(self) -> int:
        """Bytes of the archived files."""
        return sum(item.size for item in self.items)


@dataclass(frozen=True)
class ExportOptions:
    """Where and how: the output (a folder, or for ``zip`` a folder or ``NAME.zip``), the
    format, ``force`` to write into a folder that is not empty (or over a zip), the
    anonymization (None: files as stored) and, for ``png``, the window or preset."""

    output: Path
    format: Format = "dicom"
    force: bool = False
    anonymize: AnonymizeOptions | None = None
    window: tuple[float, float] | None = None
    preset: str | None = None


def plan_export(
    archive: Archive, study_uid: str, series_uids: list[str] | None = None
) -> ExportPlan:
    """The files of ``study_uid`` in the archive (only ``series_uids`` when given), series by
    series in reading order; ExportError naming what is missing."""
    from tuipacs.store.query import get_study, list_instances, list_series

    if get_study(archive, study_uid) is None:
        raise ExportError(f"study {study_uid} is not in the archive (`tuipacs ls` lists them)")
    series = [row.series_uid for row in list_series(archive, study_uid)]
    wanted = series_uids or []
    for uid in wanted:
        if uid not in series:
            raise ExportError(
                f"series {uid} is not in study {study_uid} (`tuipacs ls --study "
                f"{study_uid}` lists them)"
            )
    items: list[ExportItem] = []
    chosen = [uid for uid in series if not wanted or uid in wanted]
    for index, uid in enumerate(chosen, start=1):
        for number, row in enumerate(list_instances(archive, uid), start=1):
            image = bool(row.rows and row.columns)
            items.append(
                ExportItem(row.path, index, number, max(1, row.frames), image, row.file_size)
            )
    return ExportPlan(study_uid, tuple(items))
