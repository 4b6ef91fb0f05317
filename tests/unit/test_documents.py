"""Encapsulated documents against hostile input: the document's claimed length is checked
before it is read, PDFs with too many pages, absurd pages or garbage are one line, CDA with a
DOCTYPE is refused, CDA text is tag-free and clean."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from dockit import CDA_TEXT, ct_image, pdf_dataset, tiny_pdf

from tuipacs.imaging import pdf as pdfmod
from tuipacs.imaging.errors import DecodeError
from tuipacs.view.cda import CdaError, cda_text

DOC_HEADER = struct.pack("<HH", 0x0042, 0x0011) + b"OB\0\0"


def _pdf_file(tmp_path: Path, document: bytes, name: str = "doc.dcm") -> Path:
    path = tmp_path / name
    pdf_dataset(document, ct_image()).save_as(path, enforce_file_format=True)
    return path


def _claim_length(path: Path, length: int) -> None:
    """Rewrite the length Encapsulated Document claims (the value stays as it is)."""
    data = bytearray(path.read_bytes())
    at = data.index(DOC_HEADER) + len(DOC_HEADER)
    data[at : at + 4] = struct.pack("<I", length)
    path.write_bytes(bytes(data))


def test_claimed_length_over_the_limit_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _pdf_file(tmp_path, tiny_pdf(1))
    _claim_length(path, 0x7FFFFFF0)  # 2 GiB claimed in a file of 2 KB
    import pydicom.filereader

    read: list[object] = []
    original = pydicom.filereader.read_deferred_data_element

    def spy(*args: object, **kwargs: object) -> object:
        read.append(args[2] if len(args) > 2 else kwargs.get("filename_or_obj"))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pydicom.filereader, "read_deferred_data_element", spy)
    with pytest.raises(DecodeError) as caught:
        pdfmod.read_document(path)
    assert str(caught.value) == (
        "the encapsulated document is 2.0 GiB, over the 1.0 GiB decode limit "
        "(raise decode_limit in the config to read it)"
    )
    assert read == []  # the value was never read (pydicom would ask the file for 2 GiB)


def test_document_over_a_smaller_limit_and_truncated(tmp_path: Path) -> None:
    document = tiny_pdf(1)
    path = _pdf_file(tmp_path, document)
    with pytest.raises(DecodeError, match="over the 500 bytes decode limit"):
        pdfmod.read_document(path, limit=500)
    _claim_length(path, 1 << 20)
    with pytest.raises(DecodeError, match=r"claims 1\.0 MiB but the file has .*truncated"):
        pdfmod.read_document(path)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (bytes(range(256)) * 4, "not a PDF (no %PDF header)"),
        (b"%PDF-1.7\n" + bytes(np.random.default_rng(7).integers(0, 256, 4000, np.uint8)),
         "cannot open the PDF (damaged or encrypted?)"),
        (tiny_pdf(1)[:300], "cannot open the PDF (damaged or encrypted?)"),
    ],
)  # fmt: skip
def test_garbage_is_one_line(tmp_path: Path, document: bytes, reason: str) -> None:
    path = _pdf_file(tmp_path, document)
    with pytest.raises(DecodeError) as caught:
        pdfmod.open_pdf(path)
    text = str(caught.value)
    assert reason in text and "\n" not in text


def test_too_many_pages_and_absurd_pages() -> None:
    with pytest.raises(DecodeError, match="the PDF has 501 pages, more than 500 shown"):
        pdfmod.PdfFile(tiny_pdf(501))
    huge = pdfmod.PdfFile(tiny_pdf(1, size=(14_000.0, 30.0)))
    rows, columns, _ = huge.render_size(0)
    assert max(rows, columns) == pdfmod.RENDER_SIDE
    absurd = pdfmod.PdfFile(tiny_pdf(1, size=(0.5, 0.5)))
    with pytest.raises(DecodeError, match="not a plausible size"):
        absurd.render(0)


def test_render_is_bounded_by_the_decode_limit() -> None:
    doc = pdfmod.PdfFile(tiny_pdf(1, size=(600.0, 600.0)), limit=1 << 20)
    rows, columns, _ = doc.render_size(0)
    assert rows * columns * 3 <= 1 << 20
    page = doc.render(0)
    assert page.nbytes <= 1 << 20 and page.min() == 0 and page.max() == 255


def test_cda_text_is_tag_free_and_refuses_doctype() -> None:
    assert cda_text(CDA_TEXT.encode()).splitlines() == [
        "Radiology Report",
        "Findings",
        "A 12 mm nodule in the right upper lobe.",
    ]
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><ClinicalDocument>&b;</ClinicalDocument>'
    )
    with pytest.raises(CdaError, match="DOCTYPE"):
        cda_text(laughs)
    with pytest.raises(CdaError, match="not well-formed"):
        cda_text(b"<ClinicalDocument><title>x</ClinicalDocument>")
    hostile = b"<a><title>Evil\x1b]52;c;cm0K\x07 title</title></a>"
    with pytest.raises(CdaError):  # a control character is not XML
        cda_text(hostile)
    escaped = b"<a><title>Evil&#x202E;txt.exe</title><p>x&#x85;y</p></a>"
    lines = cda_text(escaped).splitlines()  # characters by reference: replaced when shown
    assert lines == ["Evil\ufffdtxt.exe", "x y"]  # NEL is white space: a space
