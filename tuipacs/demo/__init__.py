"""Deterministic synthetic demo data: four studies of three (fictitious) patients, and on
request a prior CT of the first patient.

``generate(out_dir)`` writes DICOM Part-10 files (Explicit VR Little Endian) and returns their
paths. The same arguments always give byte-identical files: UIDs are derived from fixed names,
dates are constants and the phantoms' noise comes from fixed seeds.

Layout under ``out_dir`` (one folder per study and series)::

    ct-thorax-abdomen-20240315/series-002/CT0001.dcm ...  CT, ct_slices x 512x512, 12 bits
    ct-thorax-abdomen-prior-20230315/series-002/...      prior CT (``prior``): 2/3 of the
                                                          slices, another frame of reference
    dx-chest-20240314/series-001/DX0001.dcm               DX, 2048x2048 MONOCHROME1
    mr-head-20231102/series-002/MR0001.dcm ...            MR T1, 24 x 256x256
    mr-head-20231102/series-003/MR0001.dcm ...            MR T2, 24 x 256x256
    us-echo-20240122/series-001/US0001.dcm                US, 30 RGB frames 480x640

Files already in ``out_dir`` are overwritten when their names match and otherwise left alone.

Modules: ``headers`` (patients, studies and the shared header modules), ``iods`` (the series
as datasets), the phantoms ``ct``, ``dx``, ``mr`` and ``us``, ``draw`` (their drawing
primitives) and ``load`` (generate and import into an archive).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.filewriter import dcmwrite

from tuipacs.demo import iods as demo_iods

ProgressCallback = Callable[[int, int], None]
DEFAULT_CT_SLICES = 300
MAX_CT_SLICES = 1000


class DemoError(Exception):
    """The demo data could not be generated (bad argument or unwritable folder)."""


def file_count(ct_slices: int = DEFAULT_CT_SLICES, *, prior: bool = False) -> int:
    """Number of files :func:`generate` writes for ``ct_slices`` and ``prior`` (to size a
    progress bar)."""
    _check_slices(ct_slices)
    prior_files = demo_iods.ct_prior_slices(ct_slices) if prior else 0
    return demo_iods.ct_file_count(ct_slices) + prior_files + demo_iods.other_file_count()


def generate(
    out_dir: Path,
    *,
    ct_slices: int = DEFAULT_CT_SLICES,
    prior: bool = False,
    progress: ProgressCallback | None = None,
) -> list[Path]:
    """Write the demo studies under ``out_dir`` and return the file paths, in writing order;
    ``prior`` adds the prior CT of the CT's patient (a comparison to try).

    ``progress(done, total)`` is called once before the first file and after every file.
    Raises :class:`DemoError` for a bad ``ct_slices`` or a folder that cannot be written.
    """
    total = file_count(ct_slices, prior=prior)
    out_dir = Path(out_dir)
    paths: list[Path] = []
    if progress is not None:
        progress(0, total)
    for relative, dataset in _instances(ct_slices, prior):
        path = out_dir.joinpath(*relative.parts)
        _write(path, dataset)
        paths.append(path)
        if progress is not None:
            progress(len(paths), total)
    return paths


def _instances(ct_slices: int, prior: bool) -> Iterator[demo_iods.Instance]:
    """Every demo instance in writing order."""
    yield from demo_iods.ct_instances(ct_slices)
    if prior:
        yield from demo_iods.ct_prior_instances(ct_slices)
    yield from demo_iods.dx_instances()
    yield from demo_iods.mr_instances()
    yield from demo_iods.us_instances()


def _write(path: Path, dataset: Dataset) -> None:
    """Write one Part-10 file, creating its folder."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        dcmwrite(path, dataset, enforce_file_format=True)
    except OSError as exc:
        raise DemoError(
            f"cannot write demo file {path}: {exc.strerror or exc}; choose a writable folder"
        ) from exc


def _check_slices(ct_slices: int) -> None:
    """Reject a CT slice count that is not a whole number in range."""
    if isinstance(ct_slices, bool) or not isinstance(ct_slices, int):
        raise DemoError(f"ct_slices must be a whole number, not {ct_slices!r}")
    if not 1 <= ct_slices <= MAX_CT_SLICES:
        raise DemoError(f"ct_slices must be between 1 and {MAX_CT_SLICES}, not {ct_slices}")
