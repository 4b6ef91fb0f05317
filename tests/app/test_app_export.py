"""Export from the browser: ``E`` on a study opens the Export form, Enter exports in a worker
with a progress bar, Esc cancels, the result is one line; a destination that cannot be used
is one line before anything starts (or when the write fails), never a traceback."""

from __future__ import annotations

import datetime
import threading
from pathlib import Path
from typing import Any

import pydicom
import pytest
from apphelpers import HANG, SIZE, browser_listed, until
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Select

from tuipacs.app.screens.export import ExportScreen, check_destination, default_destination
from tuipacs.store.archive import Archive
from tuipacs.store.query import list_instances, list_series, list_studies

CT = 0
"""The demo CT (20 slices) is the first study in the table."""


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private home folder: the form's default destination is made under it."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    return folder


def study_files(archive: Archive, row: int) -> list[Path]:
    """The archived files of study ``row`` (the table's order)."""
    study = list_studies(archive)[row].study_uid
    return [
        item.path
        for series in list_series(archive, study)
        for item in list_instances(archive, series.series_uid)
    ]


async def open_form(pilot: Pilot[Any], row: int = CT) -> ExportScreen:
    """From the browser, ``E`` on study ``row``: the Export form."""
    browser = await browser_listed(pilot)
    browser.studies.move_cursor(row=row)
    await pilot.press("E")
    await until(pilot, lambda: isinstance(pilot.app.screen, ExportScreen), "the form")
    screen = pilot.app.screen
    assert isinstance(screen, ExportScreen)
    return screen


async def export_to(
    pilot: Pilot[Any], screen: ExportScreen, out: Path | str, anonymize: bool = False
) -> None:
    """Type the destination, tick anonymize, press Enter in the destination."""
    if anonymize:
        screen.query_one("#export-anon", Checkbox).value = True
    dest = screen.query_one("#export-dest", Input)
    dest.value = str(out)
    dest.focus()
    await pilot.press("enter")


def test_default_destination_is_a_new_dated_folder(tmp_path: Path) -> None:
    today = datetime.date(2025, 3, 7)
    assert default_destination(tmp_path, today) == tmp_path / "tuipacs-export-20250307-1"
    (tmp_path / "tuipacs-export-20250307-1").mkdir()
    (tmp_path / "tuipacs-export-20250307-2").write_text("taken")
    assert default_destination(tmp_path, today) == tmp_path / "tuipacs-export-20250307-3"


def test_destination_expands_home_and_refuses_what_holds_something(home: Path) -> None:
    assert check_destination("  ~/new  ") == home / "new"
    (home / "full").mkdir()
    (home / "full" / "a.dcm").write_text("x")
    (home / "empty").mkdir()
    (home / "file").write_text("x")
    assert check_destination("~/empty") == home / "empty"
    for text, reason in (
        ("~/full", "is not empty: choose a new or empty folder"),
        ("~/file", "exists and is not a folder"),
        ("", "type the folder to export to"),
        ("bad\0name", "not a usable path"),
    ):
        with pytest.raises(ValueError, match=reason):
            check_destination(text)


async def test_export_anonymized_from_the_tui(
    archive: Archive, make_app: Any, tmp_path: Path, home: Path
) -> None:
    files = study_files(archive, CT)
    originals = [pydicom.dcmread(path, stop_before_pixels=True) for path in files]
    out = tmp_path / "out"
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await open_form(pilot)
        offered = screen.query_one("#export-dest", Input).value
        assert offered == str(home / f"tuipacs-export-{datetime.date.today():%Y%m%d}-1")
        await export_to(pilot, screen, out, anonymize=True)
        await until(pilot, lambda: screen.finished, "the export", HANG * 3)
        assert screen.line == f"{len(files)} files written to {out}", screen.line
        assert screen.done == len(files)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, ExportScreen), "closed")
        assert str(pilot.app.screen.query_one("#browser-status").render()) == screen.line
    written = sorted(out.rglob("*.dcm"))
    assert len(written) == len(files)
    names = {str(ds.PatientName) for ds in originals}
    ids = {ds.PatientID for ds in originals}
    sops = {ds.SOPInstanceUID for ds in originals}
    study_uid = originals[0].StudyInstanceUID
    for path in written:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        assert str(ds.PatientName) not in names and ds.PatientID not in ids
        assert ds.SOPInstanceUID not in sops and ds.StudyInstanceUID != study_uid
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert not (home / f"tuipacs-export-{datetime.date.today():%Y%m%d}-1").exists()


async def test_cancel_mid_way_says_cancelled_and_keeps_nothing(
    archive: Archive, make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Esc during the export stops it at the next file; as ``tuipacs export`` does, the
    files already written are taken back (a partial export is not left looking whole)."""
    import tuipacs.export.run as export_run

    gate, calls = threading.Event(), [0]
    original = export_run.item_bytes

    def held(item: Any, anonymizer: Any) -> bytes | Path:
        calls[0] += 1
        if calls[0] == 3:  # the third file waits until the test has pressed Esc
            assert gate.wait(HANG)
        return original(item, anonymizer)

    monkeypatch.setattr(export_run, "item_bytes", held)
    out = tmp_path / "out"
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await open_form(pilot)
        await export_to(pilot, screen, out)
        await until(pilot, lambda: screen.done >= 2, "two files exported")
        assert screen.running and out.is_dir() and len(list(out.rglob("*.dcm"))) == 2
        await pilot.press("escape")  # cancels; does not close the form
        assert isinstance(pilot.app.screen, ExportScreen)
        assert screen.line == "cancelling the export…"
        gate.set()
        await until(pilot, lambda: screen.finished, "the cancel")
        assert screen.result is not None and screen.result.cancelled
        assert screen.line == "export cancelled: nothing kept (the files written were removed)"
        assert calls[0] == 3  # stopped at the next file
    assert not out.exists()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        ("file", "exists and is not a folder: choose a new folder"),
        ("full", "is not empty: choose a new or empty folder"),
        ("under-a-file", "blocker is a file, not a folder: choose another place"),
        ("zip-exists", "export failed: "),
    ],
)
async def test_a_bad_destination_is_one_line(
    archive: Archive, make_app: Any, tmp_path: Path, make: str, expected: str
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    zipped = tmp_path / "old.zip"
    zipped.write_text("an older export")
    out = {
        "file": blocker,
        "full": tmp_path,
        "under-a-file": blocker / "export",
        "zip-exists": zipped,
    }[make]
    async with make_app(archive).run_test(size=SIZE) as pilot:
        screen = await open_form(pilot, row=1)  # the one-image DX
        if make == "zip-exists":
            screen.query_one("#export-format", Select).value = "zip"
        await export_to(pilot, screen, out)
        if make == "zip-exists":  # passes the form's check; the export refuses in the worker
            await until(pilot, lambda: screen.finished, "the failed export")
            expected += f"{zipped} exists: choose another name"
        await pilot.pause()
        line = screen.line
        assert line.endswith(expected) if make == "zip-exists" else expected in line, line
        assert "\n" not in line and "Traceback" not in line and "--" not in line
        assert not screen.running and isinstance(pilot.app.screen, ExportScreen)
    assert blocker.read_text() == "a file" and zipped.read_text() == "an older export"


def test_the_burned_in_refusal_names_the_forms_box_not_the_options(tmp_path: Path) -> None:
    """An ultrasound image that does not say it has no burned-in annotation stops an
    anonymized export; the line says what to do in the form, not on the command line."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from tuipacs.app.screens.export import error_line
    from tuipacs.export import ExportError, ExportItem, ExportPlan
    from tuipacs.export.run import check_burned_in

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"  # US Image Storage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "US"
    path = tmp_path / "us.dcm"
    ds.save_as(path, enforce_file_format=True)
    plan = ExportPlan("1.2.3", (ExportItem(path, 1, 1, 1, True, path.stat().st_size),))
    with pytest.raises(ExportError) as caught:
        check_burned_in(plan)
    line = error_line(caught.value)
    assert line.startswith("export failed: 1 file(s) may show patient data burned into"), line
    assert "tick 'allow burned-in'" in line and "E on each of the others" in line, line
    assert "--" not in line


async def test_the_title_masks_the_patient_when_the_session_is_masked(
    archive: Archive, make_app: Any
) -> None:
    name = list_studies(archive)[CT].patient_name.split("^")[0]
    async with make_app(archive).run_test(size=SIZE) as pilot:
        await browser_listed(pilot)
        await pilot.press("m")
        screen = await open_form(pilot)
        title = str(screen.query_one("#export-box").border_title)
        assert title.startswith("Export study ***") and name not in title, title
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, ExportScreen), "closed")
        await pilot.press("m")
        screen = await open_form(pilot)
        assert name in str(screen.query_one("#export-box").border_title)
        burned = screen.query_one("#export-burned", Checkbox)
        assert burned.disabled  # goes with anonymize
        screen.query_one("#export-anon", Checkbox).value = True
        await until(pilot, lambda: not burned.disabled, "the anonymize options")
        burned.value = True
        screen.query_one("#export-format", Select).value = "zip"
        screen.query_one("#export-dates", Select).value = "remove"
        screen.query_one("#export-dest", Input).value = "~/out.zip"
        job = screen.job()
        assert job is not None and job.options.anonymize is not None
        assert job.options.format == "zip" and job.options.output == Path.home() / "out.zip"
        assert job.options.anonymize.dates == "remove" and job.options.anonymize.allow_burned_in


def test_the_browser_help_lists_export_and_send() -> None:
    from tuipacs.app.keymap import help_sections
    from tuipacs.app.screens.browser import SECTIONS, _bindings

    sections = dict(help_sections(_bindings(), SECTIONS))
    open_keys, remote_keys = dict(sections["Open"]), dict(sections["Remote node"])
    assert open_keys["E"].startswith("export the study (or the series)")
    assert remote_keys["u"] == "send the study (or the series) to a configured node"
