"""The demo studies into an archive: generated in its temporary area, then imported."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuipacs.demo import DEFAULT_CT_SLICES, ProgressCallback, generate

if TYPE_CHECKING:
    from tuipacs.store.archive import Archive


@dataclass(frozen=True)
class DemoSummary:
    """What loading the demo did: files generated, added, already present; studies."""

    files: int
    added: int
    already_present: int
    studies: int

    def to_json(self) -> dict[str, Any]:
        """The ``demo --json`` object."""
        return {
            "files": self.files,
            "added": self.added,
            "already_present": self.already_present,
            "studies": self.studies,
        }


def load_demo(
    archive: Archive,
    *,
    ct_slices: int = DEFAULT_CT_SLICES,
    prior: bool = False,
    generating: ProgressCallback | None = None,
    importing: ProgressCallback | None = None,
) -> DemoSummary:
    """Generate the demo set (``prior``: with the prior CT) in the archive's tmp/ folder and
    import it (moving the files); ``generating`` and ``importing`` get (done, total) as each
    step goes."""
    from tuipacs.store.importer import import_paths

    with tempfile.TemporaryDirectory(dir=archive.root / "tmp", prefix="demo-") as tmp:
        files = generate(Path(tmp), ct_slices=ct_slices, prior=prior, progress=generating)
        summary = import_paths(archive, files, progress=importing)
    return DemoSummary(
        files=len(files),
        added=summary.added,
        already_present=summary.duplicates,
        studies=len(summary.studies),
    )
