"""Pilot tests of key images and write-back on the demo CT: ``*`` flags images (KEY in the
overlay and the counter), ``W`` writes a KOS and a GSPS into the archive (no node: saved
locally), the browser lists the virtual series "Key images (N)" which opens as a stack of
just those images, and a KOS already in the archive marks its images when the study opens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pydicom
from apphelpers import SIZE, browser_listed, open_study, settle, until, workers_done
from textual.widgets import DataTable

from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.store.archive import Archive
from tuipacs.store.query import list_instances, list_series, list_studies
from tuipacs.writeback.keyimages import KEY_SERIES_UID
from tuipacs.writeback.store import write_back

CT = 0  # the newest study of the demo archive
KOS_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"
GSPS_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"


def counter(screen: ViewerScreen) -> str:
    """The overlay's image counter line."""
    return next(line for line in screen.overlay_text().splitlines() if "Im: " in line)


async def test_flag_measure_write_back_and_open_the_virtual_series(
    archive_copy: Archive, make_app: Any
) -> None:
    study = list_studies(archive_copy)[CT].study_uid
    before = {s.series_uid for s in list_series(archive_copy, study)}
    app = make_app(archive_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        assert "KEY" not in counter(screen)
        await pilot.press("asterisk")
        await until(pilot, lambda: "KEY [1 key]" in counter(screen), "the key mark")
        await pilot.press("j")
        await settle(pilot)
        assert "KEY" not in counter(screen) and "[1 key]" in counter(screen)
        await pilot.press("F")  # the other key for it
        await until(pilot, lambda: "KEY [2 key]" in counter(screen), "the second mark")
        await pilot.press("j", "asterisk", "asterisk")  # flagged, then unflagged again
        await settle(pilot)
        await until(pilot, lambda: "[2 key]" in counter(screen), "the unflag")
        assert "KEY" not in counter(screen)
        await pilot.press("M", "enter", "shift+right", "shift+right", "enter")  # a length
        await settle(pilot)
        assert screen.measurements()
        await pilot.press("escape")  # the tool off, still in the viewer
        assert app.screen is screen
        await pilot.press("W")
        await until(pilot, lambda: not screen.writing_back, "the write-back")
        assert screen.writeback_line == (
            "saved a KOS of 2 key images and 1 GSPS (1 image measured); no node: saved locally"
        )
        await pilot.press("escape")  # the browser lists the virtual series
        browser = await browser_listed(pilot)
        table = browser.query_one("#series", DataTable)
        await until(pilot, lambda: table.row_count == len(before) + 3, "the series again")
        assert "Key images (2)" in str(table.get_row_at(table.row_count - 1)[2])
        await pilot.press("tab")
        table.move_cursor(row=table.row_count - 1)
        await pilot.press("enter")
        await settle(pilot)
        viewer = app.screen
        assert isinstance(viewer, ViewerScreen)
        assert viewer.loader.series[viewer.state.series_index].series_uid == KEY_SERIES_UID
        assert viewer.store is not None and viewer.state.count == 2
        flagged = [(str(ref.path), ref.frame) for ref in viewer.store.images]
        assert "KEY [2 key]" in counter(viewer)
        # a second write-back from the virtual series: new series are listed before it,
        # and the viewer knows where the open series now is (n/p step from there)
        await pilot.press("W")
        await until(pilot, lambda: not viewer.writing_back, "the second write-back")
        await until(pilot, lambda: len(viewer.series) == len(before) + 5, "the new series")
        assert viewer.series[viewer.state.series_index].series_uid == KEY_SERIES_UID
    new = [s for s in list_series(archive_copy, study) if s.series_uid not in before]
    assert sorted(s.modality for s in new) == ["KO", "KO", "PR", "PR"]
    kos_series = next(s for s in new if s.modality == "KO")
    kos = pydicom.dcmread(list_instances(archive_copy, kos_series.series_uid)[0].path)
    assert kos.SOPClassUID == KOS_CLASS
    referenced = [
        item.ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        for item in kos.ContentSequence
        if item.ValueType == "IMAGE"
    ]
    flagged_uids = [pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p, _ in flagged]
    assert referenced == flagged_uids
    pr_series = next(s for s in new if s.modality == "PR")  # the first write-back's
    gsps = list_instances(archive_copy, pr_series.series_uid)
    assert [row.sop_class_uid for row in gsps] == [GSPS_CLASS]


async def test_a_kos_in_the_archive_marks_its_images(archive_copy: Archive, make_app: Any) -> None:
    study = list_studies(archive_copy)[CT].study_uid
    series = list_series(archive_copy, study)[0]
    rows = list_instances(archive_copy, series.series_uid)
    third = (str(rows[2].path), 0)
    write_back(archive_copy, study, [third], {}, {})  # the same builder as W
    app = make_app(archive_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_study(pilot, CT)
        await workers_done(pilot)
        assert "[1 key]" in counter(screen) and "KEY" not in counter(screen)
        await pilot.press("j", "j")
        await settle(pilot)
        await until(pilot, lambda: "KEY [1 key]" in counter(screen), "the KOS mark")
        await pilot.press("asterisk")  # unflagged in this session: the KOS stays as it is
        await until(pilot, lambda: "[" not in counter(screen), "the unflag")
        assert "KEY" not in counter(screen)


FRESH_APP = """
import asyncio, sys
from pathlib import Path
from textual.widgets import DataTable
from tuipacs.app.app import build_app
from tuipacs.config import Config
from tuipacs.store.archive import Archive

assert "pydicom" not in sys.modules  # the browser starts without the DICOM reader
app = build_app(Archive.open(Path(sys.argv[1])), Config())

async def main():
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.screen.query_one("#series", DataTable)
        for _ in range(600):
            await pilot.pause(0.05)
            cells = [str(table.get_row_at(i)[2]) for i in range(table.row_count)]
            if any(cell.startswith("Key images") for cell in cells):
                break
        print("ROWS", cells)

asyncio.run(main())
"""


def test_a_fresh_browser_reads_the_kos_without_importing_pydicom_in_a_worker(
    archive_copy: Archive, tuipacs_home: Path
) -> None:
    """pydicom imported by a worker while the UI thread imports the viewer can fail half
    initialised: the series worker leaves the KOS to after the UI thread imported the
    reader, and the virtual series still shows (in a fresh interpreter)."""
    study = list_studies(archive_copy)[CT].study_uid
    series = list_series(archive_copy, study)[0]
    first = str(list_instances(archive_copy, series.series_uid)[0].path)
    write_back(archive_copy, study, [(first, 0)], {}, {})
    root = archive_copy.root
    archive_copy.close()
    result = subprocess.run(
        [sys.executable, "-c", FRESH_APP, str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Key images (1)" in result.stdout, result.stdout + result.stderr[-2000:]
    assert "ImportError" not in result.stdout + result.stderr
