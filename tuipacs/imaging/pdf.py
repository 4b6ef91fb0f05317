"""Encapsulated documents: the bounded read of Encapsulated Document (0042,0011), and PDF
pages rendered to RGB arrays with pypdfium2.

Why pypdfium2: it binds PDFium, the PDF engine of Chromium, which is fuzzed continuously and
renders what readers see in their browser; the binding is well kept, ships wheels with the
engine inside for every platform (no system library), is Apache/BSD licensed and renders
straight to a numpy array. Writing a PDF renderer is out of the question, and the pure-Python
ones (pdfminer, pypdf) extract text but do not draw pages.

PDFium runs in this process and is not thread-safe, so every call holds :data:`_PDFIUM`; its
errors become one-line :class:`~tuipacs.imaging.errors.DecodeError` s. What reaches it is
bounded first: the document's length (the header's claim, checked before the value is read)
against the decode limit, at most :data:`MAX_PAGES` pages, pages no larger than
:data:`MAX_PAGE_POINTS`, and a rendered page of at most :data:`RENDER_SIDE` pixels a side
within the decode limit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from tuipacs.imaging.errors import DecodeError, ImagingError, short_reason
from tuipacs.imaging.limits import decode_limit, human_bytes
from tuipacs.imaging.reading import quiet, read_dataset

PDF_CLASS = "1.2.840.10008.5.1.4.1.1.104.1"
"""Encapsulated PDF Storage."""
CDA_CLASS = "1.2.840.10008.5.1.4.1.1.104.2"
"""Encapsulated CDA Storage."""
DOCUMENT_TAG = 0x00420011
"""Encapsulated Document (OB)."""
MAX_PAGES = 500
"""Documents with more pages are refused (one line)."""
MAX_PAGE_POINTS = 14_400.0
"""The largest page side PDF allows (200 inches at 72 points an inch); beyond is absurd."""
RENDER_SIDE = 1600
"""Pixels of the longer side of a rendered page (the viewer fits and zooms it as any image)."""

_PDFIUM = threading.Lock()
"""PDFium is not thread-safe: one call at a time in the whole process."""


def document_kind(sop_class_uid: str, mime: str = "") -> str:
    """``'pdf'``, ``'cda'`` or '' for an instance's SOP Class (and MIME type, if known)."""
    mime = mime.strip().lower()
    if sop_class_uid == PDF_CLASS or mime == "application/pdf":
        return "pdf"
    if sop_class_uid == CDA_CLASS or mime in ("text/xml", "application/xml"):
        return "cda"
    return ""


def _declared_length(ds: Dataset) -> int | None:
    """The length the header claims for Encapsulated Document (None when absent)."""
    if DOCUMENT_TAG not in ds:
        return None
    raw: Any = ds.get_item(DOCUMENT_TAG, keep_deferred=True)  # the value is not read
    length = getattr(raw, "length", None)
    if isinstance(length, int):
        return length
    value = getattr(raw, "value", None)
    return len(value) if isinstance(value, bytes | bytearray) else 0


def read_document(path: Path, limit: int | None = None) -> tuple[Dataset, bytes]:
    """The header and Encapsulated Document bytes of ``path``.

    The length the header claims is checked before the value is read: over ``limit`` (the
    decode limit), undefined, or running past the end of the file is refused with one line
    (:class:`DecodeError`). The value's trailing pad byte stays (PDF and XML ignore it).
    """
    limit = decode_limit() if limit is None else limit
    ds = read_dataset(Path(path), header_only=True, limit=limit)
    length = _declared_length(ds)
    if length is None:
        raise DecodeError("the document has no Encapsulated Document (0042,0011)")
    if length == 0xFFFFFFFF:
        raise DecodeError("the Encapsulated Document has an undefined length")
    if length > limit:
        raise DecodeError(
            f"the encapsulated document is {human_bytes(length)}, over the "
            f"{human_bytes(limit)} decode limit (raise decode_limit in the config to read it)"
        )
    size = Path(path).stat().st_size
    if length > size:
        raise DecodeError(
            f"the encapsulated document claims {human_bytes(length)} but the file has "
            f"{human_bytes(size)} (truncated file?)"
        )
    try:
        with quiet():
            value = ds.EncapsulatedDocument
    except Exception as exc:  # noqa: BLE001 - a broken value is one line
        raise DecodeError(f"cannot read the encapsulated document: {short_reason(exc)}") from None
    if not isinstance(value, bytes | bytearray) or not value:
        raise DecodeError("the encapsulated document is empty")
    return ds, bytes(value)


@contextmanager
def _pdfium(what: str) -> Iterator[None]:
    """Hold the PDFium lock; its errors become one line saying ``what`` failed."""
    with _PDFIUM:
        try:
            yield
        except ImagingError:
            raise
        except Exception as exc:  # noqa: BLE001 - PdfiumError and friends: one line
            raise DecodeError(f"{what}: {short_reason(exc)}") from None


class PdfFile:
    """One PDF held in memory, opened by PDFium: its pages counted, sized and rendered."""

    def __init__(self, data: bytes, limit: int | None = None) -> None:
        import pypdfium2 as pdfium

        self.limit = decode_limit() if limit is None else limit
        if not data.lstrip(b"\0\t\r\n ").startswith(b"%PDF"):
            raise DecodeError("the encapsulated document is not a PDF (no %PDF header)")
        with _pdfium("cannot open the PDF (damaged or encrypted?)"):
            self._pdf = pdfium.PdfDocument(data)
            self.pages = len(self._pdf)
        if self.pages < 1:
            raise DecodeError("the PDF has no pages")
        if self.pages > MAX_PAGES:
            raise DecodeError(f"the PDF has {self.pages} pages, more than {MAX_PAGES} shown")

    def page_size(self, index: int) -> tuple[float, float]:
        """(width, height) of page ``index`` in points; DecodeError when absurd."""
        if not 0 <= index < self.pages:
            raise DecodeError(f"page {index + 1} is out of range (1..{self.pages})")
        with _pdfium(f"cannot read page {index + 1}"):
            page = self._pdf[index]
            try:
                width, height = page.get_size()
            finally:
                page.close()
        if not (1.0 <= width <= MAX_PAGE_POINTS and 1.0 <= height <= MAX_PAGE_POINTS):
            raise DecodeError(
                f"page {index + 1} is {width:.0f} x {height:.0f} points, not a plausible size"
            )
        return width, height

    def render_size(self, index: int) -> tuple[int, int, float]:
        """(rows, columns, scale) page ``index`` is rendered at: :data:`RENDER_SIDE` pixels
        on the longer side, within the decode limit."""
        width, height = self.page_size(index)
        scale = RENDER_SIDE / max(width, height)
        budget = (self.limit / (4 * width * height)) ** 0.5  # PDFium draws 4 bytes a pixel
        scale = min(scale, budget)
        rows, columns = max(1, round(height * scale)), max(1, round(width * scale))
        return rows, columns, scale

    def render(self, index: int) -> np.ndarray:
        """Page ``index`` as (rows, columns, 3) uint8 RGB on white."""
        rows, columns, scale = self.render_size(index)
        with _pdfium(f"cannot render page {index + 1}"):
            page = self._pdf[index]
            try:
                bitmap = page.render(
                    scale=scale, rev_byteorder=True, fill_color=(255, 255, 255, 255)
                )
                array = np.array(bitmap.to_numpy(), dtype=np.uint8, copy=True)
                bitmap.close()
            finally:
                page.close()
        if array.ndim != 3 or array.shape[2] < 3:
            raise DecodeError(f"page {index + 1} rendered as an unexpected {array.shape} array")
        if abs(array.shape[0] - rows) > 2 or abs(array.shape[1] - columns) > 2:
            raise DecodeError(f"page {index + 1} rendered at an unexpected size {array.shape}")
        return np.ascontiguousarray(array[:, :, :3])

    def close(self) -> None:
        """Release PDFium's document."""
        with _PDFIUM:
            self._pdf.close()


def open_pdf(path: Path, limit: int | None = None) -> tuple[Dataset, PdfFile]:
    """The header of an Encapsulated PDF file and its document, opened (bounded, one-line
    :class:`DecodeError` when anything is wrong)."""
    ds, data = read_document(path, limit)
    return ds, PdfFile(data, limit)
