"""Pilot tests of documents in the TUI: a TID 1500 report (made with highdicom) in the report
screen with search and Enter to its image, Encapsulated PDF pages as viewer images, CDA text,
and hostile documents (garbage PDF, reports nested 150 and 10^5 deep) bounded or one line."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from apphelpers import SIZE, browser_listed, settle, until
from dockit import CDA_TEXT, cda_dataset, ct_image, measurement_report, pdf_dataset, tiny_pdf
from pydicom.dataset import Dataset
from textual.pilot import Pilot
from textual.widgets import Input, Static

from tuipacs.app.screens.documents import CdaScreen
from tuipacs.app.screens.sr import SrScreen
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.store.query import get_study, list_series

PAGES = 3


def _deep_sr_bytes(study: Dataset, levels: int) -> bytes:
    """A Comprehensive SR in implicit VR little endian whose content is ``levels`` nested
    containers (undefined lengths), written byte by byte (pydicom would recurse)."""

    def element(group: int, elem: int, value: bytes) -> bytes:
        value += b"\0" if len(value) % 2 else b""
        return struct.pack("<HHI", group, elem, len(value)) + value

    head = b"".join(
        [
            element(0x0008, 0x0016, b"1.2.840.10008.5.1.4.1.1.88.33"),
            element(0x0008, 0x0018, b"1.2.826.0.1.3680043.8.498.999"),
            element(0x0008, 0x0060, b"SR"),
            element(0x0010, 0x0010, str(study.PatientName).encode()),
            element(0x0010, 0x0020, str(study.PatientID).encode()),
            element(0x0020, 0x000D, str(study.StudyInstanceUID).encode()),
            element(0x0020, 0x000E, b"1.2.826.0.1.3680043.8.498.998"),
            element(0x0040, 0xA040, b"CONTAINER"),
        ]
    )
    open_level = (
        struct.pack("<HHI", 0x0040, 0xA730, 0xFFFFFFFF)
        + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
        + element(0x0040, 0xA010, b"CONTAINS")
        + element(0x0040, 0xA040, b"CONTAINER")
    )
    close_level = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    meta_body = element(0x0002, 0x0010, b"1.2.840.10008.1.2")
    meta_body = (
        struct.pack("<HH", 0x0002, 0x0001) + b"OB\0\0" + struct.pack("<I", 2) + b"\0\1"
        + struct.pack("<HH", 0x0002, 0x0002) + b"UI" + struct.pack("<H", 30)
        + b"1.2.840.10008.5.1.4.1.1.88.33\0"
        + struct.pack("<HH", 0x0002, 0x0003) + b"UI" + struct.pack("<H", 30)
        + b"1.2.826.0.1.3680043.8.498.999\0"
        + struct.pack("<HH", 0x0002, 0x0010) + b"UI" + struct.pack("<H", 18)
        + b"1.2.840.10008.1.2\0"
    )  # fmt: skip
    meta = struct.pack("<HH", 0x0002, 0x0000) + b"UL" + struct.pack("<HI", 4, len(meta_body))
    return (
        b"\0" * 128 + b"DICM" + meta + meta_body + head
        + open_level * levels + close_level * levels
    )  # fmt: skip


@pytest.fixture
def doc_archive(tmp_path: Path) -> Iterator[tuple[Archive, dict[str, Any]]]:
    """An archive with pydicom's CT image and, in its study, a TID 1500 report on it, a PDF
    of three pages, a CDA document, a PDF of garbage bytes and a report nested 150 deep
    (deeper files are refused by the import: pydicom's parser recurses)."""
    ct = ct_image()
    files = tmp_path / "files"
    files.mkdir()
    ct.save_as(files / "ct.dcm", enforce_file_format=True)
    sr = measurement_report(ct)
    sr.save_as(files / "sr.dcm", enforce_file_format=True)
    pdf = pdf_dataset(tiny_pdf(PAGES), ct)
    pdf.save_as(files / "pdf.dcm", enforce_file_format=True)
    cda = cda_dataset(CDA_TEXT, ct)
    cda.save_as(files / "cda.dcm", enforce_file_format=True)
    garbage = pdf_dataset(bytes(range(256)) * 8, ct)
    garbage.save_as(files / "garbage.dcm", enforce_file_format=True)
    (files / "deep.dcm").write_bytes(_deep_sr_bytes(ct, 150))
    archive = Archive.open(tmp_path / "archive")
    summary = import_paths(archive, sorted(files.iterdir()))
    assert summary.added == 6, (summary.refused, summary.errors)
    uids = {
        "study": str(ct.StudyInstanceUID),
        "ct": str(ct.SeriesInstanceUID),
        "sr": str(sr.SeriesInstanceUID),
        "pdf": str(pdf.SeriesInstanceUID),
        "cda": str(cda.SeriesInstanceUID),
        "garbage": str(garbage.SeriesInstanceUID),
        "deep": "1.2.826.0.1.3680043.8.498.998",
        "ct_sop": str(ct.SOPInstanceUID),
        "pdf_bytes": tiny_pdf(PAGES),
    }
    yield archive, uids
    archive.close()


async def open_series(pilot: Pilot[Any], archive: Archive, study_uid: str, series: str) -> None:
    """From the browser, open the viewer on ``series`` of the study."""
    browser = await browser_listed(pilot)
    study = get_study(archive, study_uid)
    assert study is not None
    pilot.app.push_screen(ViewerScreen(archive, study, series, browser.settings))
    await pilot.pause()


async def test_pdf_pages_are_viewer_images(doc_archive: Any, make_app: Any) -> None:
    import pypdfium2 as pdfium

    archive, uids = doc_archive
    async with make_app(archive).run_test(size=SIZE) as pilot:
        await open_series(pilot, archive, uids["study"], uids["pdf"])
        await settle(pilot)
        viewer = pilot.app.screen
        assert isinstance(viewer, ViewerScreen)
        assert viewer.state.count == PAGES
        assert "PDF page 1/3" in viewer.overlay_text()
        frame = viewer.frame
        assert frame is not None and frame.color
        values = frame.values
        assert values.shape == (960, 1600, 3) and values.min() == 0 and values.max() == 255
        # the same page rendered by pypdfium2 itself at the same scale
        page = pdfium.PdfDocument(uids["pdf_bytes"])[0]
        own = page.render(scale=8.0, rev_byteorder=True, fill_color=(255, 255, 255, 255))
        assert np.array_equal(values, own.to_numpy()[:, :, :3])
        await pilot.press("j")
        await settle(pilot)
        assert viewer.state.index == 1 and "PDF page 2/3" in viewer.overlay_text()
        assert viewer.frame is not None and not np.array_equal(viewer.frame.values, values)
        await pilot.press("end")
        await settle(pilot)
        assert "PDF page 3/3" in viewer.overlay_text()


async def test_garbage_pdf_is_one_line(doc_archive: Any, make_app: Any) -> None:
    archive, uids = doc_archive
    async with make_app(archive).run_test(size=SIZE) as pilot:
        await open_series(pilot, archive, uids["study"], uids["garbage"])
        await settle(pilot)
        viewer = pilot.app.screen
        assert isinstance(viewer, ViewerScreen)
        assert viewer.frame is None
        assert viewer.message == (
            "image 1: the encapsulated document is not a PDF (no %PDF header)"
        )


async def test_report_screen_search_and_enter_opens_the_image(
    doc_archive: Any, make_app: Any
) -> None:
    archive, uids = doc_archive
    async with make_app(archive).run_test(size=SIZE) as pilot:
        await open_series(pilot, archive, uids["study"], uids["sr"])
        await until(pilot, lambda: isinstance(pilot.app.screen, SrScreen), "the report screen")
        screen = pilot.app.screen
        assert isinstance(screen, SrScreen)
        await until(pilot, lambda: screen.doc is not None, "the report to be read")
        header = str(screen.query_one("#sr-header", Static).content)
        assert "Imaging Measurement Report" in header and "Completion: COMPLETE" in header
        assert "Observer: Reader, Test" in header
        await pilot.press("slash", *"length", "enter")
        assert screen.query_one("#sr-search", Input).value == "length"
        cursor = screen.content_tree.cursor_node
        assert cursor is not None and cursor.data is not None
        assert (cursor.data.concept, cursor.data.value) == ("Length", "12.5 mm")
        assert "1 match" in screen.status
        await pilot.press("slash", "ctrl+u", *"image", "enter")  # the SCOORD and its source
        first = screen.content_tree.cursor_node
        assert first is not None and first.data is not None
        assert first.data.value_type == "SCOORD"
        await pilot.press("n")
        second = screen.content_tree.cursor_node
        assert second is not None and second.data is not None and second is not first
        assert second.data.value_type == "IMAGE"
        await pilot.press("enter")  # open the referenced CT image
        await until(pilot, lambda: isinstance(pilot.app.screen, ViewerScreen), "the viewer")
        await settle(pilot)
        viewer = pilot.app.screen
        assert isinstance(viewer, ViewerScreen)
        assert viewer.loader.series[viewer.loader.index].series_uid == uids["ct"]
        assert viewer.frame is not None and viewer.frame.info.modality == "CT"
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen, "back to the report")


async def test_report_image_not_in_archive(doc_archive: Any, make_app: Any, tmp_path: Path) -> None:
    archive, uids = doc_archive
    from pydicom.data import get_testdata_file

    import_paths(archive, [Path(get_testdata_file("test-SR.dcm"))])
    study = "1.2.276.0.7230010.3.1.4.2139363186.7819.982086466.2"
    series = list_series(archive, study)[0].series_uid
    async with make_app(archive).run_test(size=SIZE) as pilot:
        await open_series(pilot, archive, study, series)
        await until(pilot, lambda: isinstance(pilot.app.screen, SrScreen), "the report screen")
        screen = pilot.app.screen
        assert isinstance(screen, SrScreen)
        await until(pilot, lambda: screen.doc is not None, "the report to be read")
        assert screen.doc is not None and screen.doc.count == 28
        await pilot.press("slash", *"ct image", "enter")
        await pilot.press("enter")
        await until(pilot, lambda: "not in the archive" in screen.status, "the answer")
        assert "image 1.2.3.4.5.0 is not in the archive" in screen.status
        await pilot.press("escape")
        viewer = pilot.app.screen
        assert isinstance(viewer, ViewerScreen)
        assert "is a structured report" in viewer.message


async def test_cda_text_and_deep_report(doc_archive: Any, make_app: Any) -> None:
    archive, uids = doc_archive
    async with make_app(archive).run_test(size=SIZE) as pilot:
        await open_series(pilot, archive, uids["study"], uids["cda"])
        await until(pilot, lambda: isinstance(pilot.app.screen, CdaScreen), "the CDA screen")
        cda = pilot.app.screen
        assert isinstance(cda, CdaScreen)
        await until(pilot, lambda: "nodule" in cda.text, "the CDA text")
        assert cda.text.splitlines() == [
            "Radiology Report",
            "Findings",
            "A 12 mm nodule in the right upper lobe.",
        ]
        await pilot.press("escape")
        viewer = pilot.app.screen
        assert isinstance(viewer, ViewerScreen)
        viewer.loader.open([s.series_uid for s in viewer.series].index(uids["deep"]))
        await until(pilot, lambda: isinstance(pilot.app.screen, SrScreen), "the report screen")
        screen = pilot.app.screen
        assert isinstance(screen, SrScreen)
        await until(pilot, lambda: screen.doc is not None, "the report to be read")
        assert screen.doc is not None and screen.doc.count == 64
        assert "nested deeper than 64 levels is not shown" in screen.status
        # the file replaced by one nested 10^5 deep: pydicom cannot parse it, one line says so
        path = screen.paths[0]
        path.write_bytes(_deep_sr_bytes(ct_image(), 100_000))
        screen.action_document(0)
        header = screen.query_one("#sr-header", Static)
        await until(pilot, lambda: "cannot show" in str(header.content), "the one line")
        text = str(header.content)
        assert text.startswith("cannot show the report: ") and "\n" not in text
        assert "recursion" in text


async def test_masked_report_hides_person_names(doc_archive: Any, make_app: Any) -> None:
    archive, uids = doc_archive
    async with make_app(archive).run_test(size=SIZE) as pilot:
        browser = await browser_listed(pilot)
        browser.settings.session.masked = True
        await open_series(pilot, archive, uids["study"], uids["sr"])
        await until(pilot, lambda: isinstance(pilot.app.screen, SrScreen), "the report screen")
        screen = pilot.app.screen
        assert isinstance(screen, SrScreen)
        await until(pilot, lambda: screen.doc is not None, "the report to be read")
        header = str(screen.query_one("#sr-header", Static).content)
        assert "Observer: ***" in header and "Reader" not in header
        labels = [str(n.label) for n in screen.content_tree.root.children]
        assert "has obs context Person Observer Name: ***  [PNAME]" in labels
        assert not any("Reader" in label for label in labels)
        await pilot.press("slash", *"reader", "enter")
        assert "0 matches" in screen.status
