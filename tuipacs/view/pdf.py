"""Encapsulated PDF in the viewer: each page is one image of the series, shown through the
ordinary frame path (frame cache, render thread, every graphics backend, flow control).

:func:`series_images` turns a series' instances into the viewer's list of images, a
:class:`PageRef` per page for PDF instances (their page count read once per file), an
:class:`~tuipacs.view.frames.ImageRef` per frame for the rest. :class:`PdfFrameStore` is the
viewer's :class:`~tuipacs.view.frames.FrameStore` for a series with PDF pages: pages are
rendered by :mod:`tuipacs.imaging.pdf` to RGB arrays, their overlay says "PDF page n/N".
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from tuipacs.imaging.errors import DecodeError
from tuipacs.imaging.pdf import PDF_CLASS, PdfFile, open_pdf
from tuipacs.imaging.pipeline import DisplayPipeline
from tuipacs.imaging.voi import VoiFunction
from tuipacs.store.query import InstanceRow
from tuipacs.view.frames import FrameStore, ImageRef, _DisplayLoader, _Facts
from tuipacs.view.info import frame_info

KEEP_OPEN = 4
"""PDF documents kept open by one viewer (the most recent)."""


@dataclass(frozen=True)
class PageRef(ImageRef):
    """Page ``frame`` (0-based) of the Encapsulated PDF in ``path``."""


_counts: OrderedDict[tuple[str, int, int], int] = OrderedDict()
_counts_lock = threading.Lock()


def page_count(path: Path) -> int:
    """The pages of the PDF in ``path`` (0 when it cannot be opened: its one page then shows
    the reason). Remembered per file, size and modification time (the series loader asks
    every second while a series is open)."""
    try:
        stat = path.stat()
    except OSError:
        return 0
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _counts_lock:
        if key in _counts:
            return _counts[key]
    try:
        _, pdf = open_pdf(path)
        count = pdf.pages
        pdf.close()
    except Exception:  # noqa: BLE001 - the page shows why when it is rendered
        count = 0
    with _counts_lock:
        _counts[key] = count
        while len(_counts) > 256:
            _counts.popitem(last=False)
    return count


def series_images(rows: Sequence[InstanceRow]) -> list[ImageRef]:
    """The viewer's images of a series: every page of a PDF, every frame of an image."""
    images: list[ImageRef] = []
    for row in rows:
        if row.sop_class_uid == PDF_CLASS:
            images += [PageRef(row.path, page) for page in range(max(1, page_count(row.path)))]
        else:
            images += [ImageRef(row.path, f) for f in range(max(1, row.frames))]
    return images


class _PdfLoader(_DisplayLoader):
    """The viewer's loader, with the pages of the PDF files in ``pdfs`` rendered by PDFium."""

    def __init__(self, pdfs: set[str], limit: int) -> None:
        super().__init__(limit=limit)
        self.pdfs = pdfs
        self._docs: OrderedDict[str, tuple[Dataset, PdfFile]] = OrderedDict()
        self._docs_lock = threading.Lock()

    def document(self, source: str) -> tuple[Dataset, PdfFile]:
        """The header and opened PDF of ``source`` (kept open, the last few)."""
        with self._docs_lock:
            found = self._docs.get(source)
            if found is not None:
                self._docs.move_to_end(source)
                return found
            found = open_pdf(Path(source), self.limit)
            self._docs[source] = found
            while len(self._docs) > KEEP_OPEN:
                self._docs.popitem(last=False)[1][1].close()
            return found

    def __call__(self, source: Hashable, frame: int) -> np.ndarray:
        """The page's RGB pixels for a PDF, else the image's frame as usual."""
        if str(source) in self.pdfs:
            return self.document(str(source))[1].render(frame)
        return super().__call__(source, frame)

    def pipeline(self, source: Hashable) -> DisplayPipeline:
        """A PDF has no imaging pipeline: one line instead of pydicom's 'no pixel data'."""
        if str(source) in self.pdfs:
            raise DecodeError("a PDF page has no pixel pipeline")
        return super().pipeline(source)


class PdfFrameStore(FrameStore):
    """A FrameStore whose :class:`PageRef` images are PDF pages (others decode as usual)."""

    def __init__(
        self, images: list[ImageRef], max_bytes: int = 256 * 1024 * 1024, limit: int | None = None
    ) -> None:
        super().__init__(images, max_bytes, limit)
        self.cache.close()  # FrameStore's own cache: replaced by one on the PDF loader
        pdfs = {str(ref.path) for ref in images if isinstance(ref, PageRef)}
        self._pdf_loader = _PdfLoader(pdfs, self._loader.limit)
        self._loader = self._pdf_loader
        from tuipacs.imaging.cache import FrameCache

        self.cache = FrameCache(self._loader, budget_bytes=max_bytes, workers=2)

    def replace_images(self, images: list[ImageRef]) -> None:
        """A longer list of the same series; new PDF files are known as such."""
        self._pdf_loader.pdfs |= {str(ref.path) for ref in images if isinstance(ref, PageRef)}
        super().replace_images(images)

    def header(self, index: int) -> Dataset:
        """The header of image ``index`` (a PDF's without its document)."""
        ref = self.images[index]
        if isinstance(ref, PageRef):
            return self._pdf_loader.document(str(ref.path))[0]
        return super().header(index)

    def _facts_of(self, index: int) -> _Facts:
        """A page's facts: the document's header, the rendered size, RGB, square pixels."""
        ref = self.images[index]
        if not isinstance(ref, PageRef):
            return super()._facts_of(index)
        with self._lock:
            known = self._facts.get(index)
        if known is not None:
            return known
        header, pdf = self._pdf_loader.document(str(ref.path))
        rows, columns, _ = pdf.render_size(ref.frame)
        pages = sum(1 for other in self.images if other.path == ref.path)
        info = replace(
            frame_info(header, 0), rows=rows, columns=columns, frames=pages, document="PDF"
        )
        facts = _Facts(info, True, False, 1.0, [], VoiFunction.LINEAR, None)
        with self._lock:
            self._facts[index] = facts
        return facts


def store_for(images: list[ImageRef]) -> FrameStore:
    """The viewer's store of ``images``: a :class:`PdfFrameStore` when any is a PDF page."""
    if any(isinstance(ref, PageRef) for ref in images):
        return PdfFrameStore(images)
    return FrameStore(images)
