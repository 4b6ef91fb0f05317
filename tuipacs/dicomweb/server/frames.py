"""WADO-RS frames and rendered images of an archived instance.

Frames are read from the file without decoding: for native pixel data, each frame's bytes at
its offset (frame size from Rows, Columns, Samples per Pixel and Bits Allocated, checked
against the element's length); for encapsulated syntaxes, the frame's fragments as stored.
Each goes out as an ``application/octet-stream`` part naming the file's transfer syntax.
Frame numbers start at 1 and are checked against Number of Frames (404 past the end).
Rendered images go through the viewer's render path (:func:`tuipacs.view.export.render_image`)
as PNG or JPEG.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from tuipacs.dicomweb.server.body import HttpError
from tuipacs.dicomweb.server.wado import PIXEL_DATA, raw_element

#: Most frames asked for in one request.
MAX_FRAMES = 4096
_UNDEFINED = 0xFFFFFFFF


def frame_list(text: str) -> list[int]:
    """``1,3,5`` as frame numbers; 400 for anything else."""
    items = text.split(",")
    if len(items) > MAX_FRAMES:
        raise HttpError(400, f"at most {MAX_FRAMES} frames per request")
    numbers = []
    for item in items:
        item = item.strip()
        if not item.isdigit() or len(item) > 9 or int(item) < 1:
            raise HttpError(400, f"bad frame number {item[:12]!r}: frames are numbered from 1")
        numbers.append(int(item))
    return numbers


def frame_count(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _frame_size(ds: Dataset) -> int:
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        bits = int(ds.BitsAllocated)
    except (AttributeError, TypeError, ValueError):
        raise HttpError(500, "the archived file's image attributes cannot be read") from None
    if bits % 8 or rows <= 0 or cols <= 0 or samples <= 0:
        raise HttpError(400, "frames of this pixel layout (e.g. 1-bit) are not served")
    return rows * cols * samples * (bits // 8)


def frames(path: Path, numbers: list[int]) -> Iterator[bytes]:
    """The asked-for frames as stored; checks first (404 past the end), then reads."""
    ds, element = raw_element(path, PIXEL_DATA)
    count = frame_count(ds)
    past = [n for n in numbers if n > count]
    if past:
        raise HttpError(404, f"no frame {past[0]}: the instance has {count} frame(s)")
    if element.length == _UNDEFINED:
        return _encapsulated(path, element, numbers, count)
    size = _frame_size(ds)
    if size * count > element.length:
        raise HttpError(500, "the archived file's pixel data is shorter than its frames")
    return _native(path, element, numbers, size)


def _native(path: Path, element: RawDataElement, numbers: list[int], size: int
            ) -> Iterator[bytes]:  # fmt: skip
    if element.value is not None:
        data = bytes(element.value)
        for n in numbers:
            yield data[(n - 1) * size : n * size]
        return
    with path.open("rb") as handle:
        for n in numbers:
            handle.seek(element.value_tell + (n - 1) * size)
            yield handle.read(size)


def _encapsulated(path: Path, element: RawDataElement, numbers: list[int], count: int
                  ) -> Iterator[bytes]:  # fmt: skip
    from pydicom.encaps import get_frame

    with path.open("rb") as handle:
        for n in numbers:
            handle.seek(element.value_tell)
            try:
                yield get_frame(handle, n - 1, number_of_frames=count)
            except (ValueError, KeyError, IndexError, EOFError) as exc:
                raise HttpError(500, f"frame {n} cannot be read from the archived file: "
                                f"{str(exc)[:80]}") from None  # fmt: skip


def frame_parts(path: Path, numbers: list[int], transfer_syntax: str,
                boundary: str) -> Iterator[bytes]:  # fmt: skip
    """The multipart body of the frames."""
    for data in frames(path, numbers):
        yield (
            f"--{boundary}\r\nContent-Type: application/octet-stream; "
            f"transfer-syntax={transfer_syntax}\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode("ascii")
        yield data
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode("ascii")


def rendered_type(accept: list[tuple[str, dict[str, str]]]) -> str:
    """image/png or image/jpeg from the Accept ranges (JPEG by default); 406 otherwise."""
    for media, _ in accept:
        if media in ("image/png", "image/jpeg"):
            return media
        if media in ("*/*", "image/*"):
            return "image/jpeg"
    raise HttpError(406, "rendered images are image/jpeg or image/png")


def rendered(path: Path, frame: int, media: str) -> bytes:
    """A frame rendered by the viewer's path, encoded as ``media``."""
    from PIL import Image

    from tuipacs.imaging.errors import ImagingError
    from tuipacs.view.export import render_image

    count = frame_count(dcmread(path, stop_before_pixels=True))
    if frame > count:
        raise HttpError(404, f"no frame {frame}: the instance has {count} frame(s)")
    try:
        image = render_image(path, frame=frame, overlays=False)
    except ImagingError as exc:
        raise HttpError(422, f"cannot render this instance: {exc}") from None
    out = io.BytesIO()
    if media == "image/png":
        Image.fromarray(image).save(out, format="PNG")
    else:
        Image.fromarray(image).save(out, format="JPEG", quality=90)
    return out.getvalue()
