"""Write-back of a session's key images and measurements (pure: no Textual): a KOS and a
GSPS per measured series built from the source headers (:mod:`tuipacs.writeback.build`),
stored through the archive's normal import path (identity rules apply: a refusal is one
line), and sent to the node the study came from.

Only images of the study in the archive count: a flag or a measurement of a file that is
not (any longer) one of its instances is left out. The new series take the numbers after
the highest of the study (KOS first, then the presentation states' one series).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tuipacs.writeback.build import Annotated, SeriesMarks, WriteBackError, build_gsps, build_kos
from tuipacs.writeback.keyimages import KOS_CLASS, ImageKey, study_files

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from tuipacs.imaging.voi import Window
    from tuipacs.remote.client import PacsClient
    from tuipacs.remote.results import SendResult
    from tuipacs.store.archive import Archive
    from tuipacs.view.measure import Measurement

MAX_SERIES_NUMBER = 2**31 - 1
"""Series Number is IS: the largest it holds."""
MAX_IMAGES = 10_000
"""Images one write-back references at most."""
NO_NODE = "no node: saved locally"


@dataclass
class WriteBack:
    """What a write-back stored: the new files in the archive, and what they hold."""

    paths: list[Path] = field(default_factory=list)
    key_images: int = 0
    measured_images: int = 0
    presentation_states: int = 0

    def summary(self) -> str:
        """``saved a KOS of 2 key images and 1 GSPS (3 images measured)``."""
        parts = []
        if self.key_images:
            parts.append(f"a KOS of {self.key_images} key image{_s(self.key_images)}")
        if self.presentation_states:
            states = self.presentation_states
            parts.append(
                f"{states} GSPS ({self.measured_images} image{_s(self.measured_images)} measured)"
            )
        return "saved " + " and ".join(parts) if parts else "nothing to save"


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def next_series_number(archive: Archive, study_uid: str) -> int:
    """One more than the highest integer Series Number of the study (1 when none)."""
    rows = archive.execute(
        "SELECT se.series_number FROM series se JOIN study st ON se.study_fk = st.id "
        "WHERE st.study_uid = ?",
        (study_uid,),
    )
    highest = 0
    for row in rows:
        try:
            highest = max(highest, int(str(row[0] or "").strip()))
        except ValueError:
            continue
    return min(highest, MAX_SERIES_NUMBER - 2) + 1


class _Headers:
    """The source headers, each read once (guarded reader, header only)."""

    def __init__(self) -> None:
        self.cache: dict[str, Dataset] = {}

    def get(self, path: str) -> Dataset:
        from tuipacs.imaging.errors import ImagingError
        from tuipacs.imaging.reading import read_dataset

        if path not in self.cache:
            try:
                self.cache[path] = read_dataset(Path(path), header_only=True)
            except (ImagingError, OSError) as exc:
                raise WriteBackError(f"cannot read a source image: {exc}") from exc
        return self.cache[path]


def build_objects(
    archive: Archive,
    study_uid: str,
    keys: Sequence[ImageKey],
    measured: Mapping[ImageKey, tuple[Measurement, ...]],
    windows: Mapping[str, Window | None],
) -> list[Dataset]:
    """The KOS of ``keys`` and a GSPS per series of ``measured`` (with the window of
    ``windows`` by series UID); WriteBackError when there is nothing to write."""
    files = study_files(archive, study_uid)
    in_study = {path: (sop, series) for sop, (path, series, _f) in files.items()}
    keys = [key for key in keys if key[0] in in_study][:MAX_IMAGES]
    marks = {key: items for key, items in measured.items() if key[0] in in_study and items}
    if not keys and not marks:
        raise WriteBackError("nothing to save: flag key images (*) or measure (M) first")
    headers = _Headers()
    number = next_series_number(archive, study_uid)
    objects: list[Dataset] = []
    if keys:
        frames: dict[str, list[int]] = {}
        for path, frame in keys:
            frames.setdefault(path, []).append(frame)
        objects.append(build_kos([(headers.get(p), f) for p, f in frames.items()], number))
    by_series: dict[str, SeriesMarks] = {}
    for (path, frame), items in list(marks.items())[:MAX_IMAGES]:
        series = in_study[path][1]
        group = by_series.setdefault(series, SeriesMarks(window=windows.get(series)))
        group.images.append(Annotated(headers.get(path), frame, items))
    if by_series:
        from pydicom.uid import generate_uid

        pr_series = generate_uid()
        for n, group in enumerate(by_series.values(), 1):
            objects.append(build_gsps(group, pr_series, number + 1, n))
    return objects


def store_objects(archive: Archive, objects: Sequence[Dataset]) -> list[Path]:
    """Write ``objects`` and add them to the archive (moved in from its tmp folder);
    WriteBackError when the archive refuses one (identity rules) or cannot be written."""
    from tuipacs.store.archive import ArchiveError
    from tuipacs.store.identity import RefusedError
    from tuipacs.store.instance import BadDicomError, NotDicomError

    paths = []
    for ds in objects:
        tmp = archive.tmp_dir() / f"writeback-{ds.SOPInstanceUID}.dcm"
        try:
            ds.save_as(tmp, enforce_file_format=True)
            archive.add_file(tmp, move=True, source="writeback")
        except RefusedError as exc:
            raise WriteBackError(f"the archive refused the object: {exc}") from exc
        except (ArchiveError, BadDicomError, NotDicomError, OSError) as exc:
            raise WriteBackError(f"cannot store the object: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
        where = archive.instance_path(str(ds.SOPInstanceUID))
        if where is not None:
            paths.append(where)
    return paths


def write_back(
    archive: Archive,
    study_uid: str,
    keys: Sequence[ImageKey],
    measured: Mapping[ImageKey, tuple[Measurement, ...]],
    windows: Mapping[str, Window | None],
) -> WriteBack:
    """Build the KOS and GSPS objects of the session and store them in the archive."""
    objects = build_objects(archive, study_uid, keys, measured, windows)
    result = WriteBack(paths=store_objects(archive, objects))
    for ds in objects:
        if ds.SOPClassUID == KOS_CLASS:
            result.key_images = _referenced(ds)
        else:
            result.presentation_states += 1
            result.measured_images += sum(
                len(item.ReferencedImageSequence) for item in ds.ReferencedSeriesSequence
            )
    return result


def _referenced(kos: Dataset) -> int:
    """Images (frames of a multi-frame image each) a KOS references."""
    count = 0
    for item in kos.ContentSequence:
        for ref in item.get("ReferencedSOPSequence") or []:
            frames = ref.get("ReferencedFrameNumber")
            count += len(frames) if isinstance(frames, list | tuple) else 1
    return count


def study_node(archive: Archive, study_uid: str) -> str:
    """The node ``study_uid`` was retrieved from ('' when unknown)."""
    from tuipacs.store.expected import get_expected

    found = get_expected(archive, study_uid)
    return found.node if found is not None else ""


def send_to(clients: Callable[[str], PacsClient], node: str, paths: Sequence[Path]) -> SendResult:
    """Send ``paths`` to ``node`` (a configured name or AE@host:port) through the client
    seam; RemoteError when it cannot be reached or refuses everything."""
    return clients(node).send(list(paths))
