"""``tuipacs render``: one frame of a DICOM file to PNG, JPEG or TIFF (by the output's suffix),
through the viewer's render path."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuipacs.cli.common import CliError, add_command, load_config

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tuipacs.cli.common import Subparsers


def register(sub: Subparsers) -> None:
    """Add ``render``."""
    render = add_command(
        sub,
        "render",
        cmd_render,
        "render one frame of a DICOM file to PNG, JPEG or TIFF, as the viewer",
    )
    render.add_argument("file", metavar="FILE")
    render.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT.png",
        help="the suffix picks the format: .png, .jpg, .tif",
    )
    render.add_argument("--frame", type=int, default=1, help="frame number, 1-based")
    group = render.add_mutually_exclusive_group()
    group.add_argument("--window", nargs=2, type=float, metavar=("CENTER", "WIDTH"))
    group.add_argument("--preset", help="window preset, e.g. lung, bone, brain, auto, minmax")
    render.add_argument("--invert", action="store_true", help="invert the grey levels")
    render.add_argument(
        "--rotate", type=int, default=0, choices=(0, 90, 180, 270), help="degrees clockwise"
    )
    render.add_argument(
        "--flip", default="", choices=("h", "v", "hv"), help="mirror after rotating"
    )
    render.add_argument("--size", metavar="WxH", help="output size in pixels (keeps aspect)")
    render.add_argument(
        "--zoom", type=float, default=1.0, help="zoom relative to fit (needs --size)"
    )
    render.add_argument("--cell", metavar="WxH", help="place the picture on cells of WxH pixels")
    render.add_argument("--no-overlays", action="store_true", help="do not draw overlay planes")


#: The formats ``render`` writes, by the output's suffix.
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}


def _save(image: NDArray[Any], out: Path, fmt: str) -> None:
    """Write an 8-bit grey or RGB array as JPEG (quality 95) or TIFF."""
    import numpy as np
    from PIL import Image

    from tuipacs.imaging.errors import ImagingError

    mode = "RGB" if image.ndim == 3 else "L"
    options = {"quality": 95} if fmt == "JPEG" else {}
    try:
        Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode).save(
            out, format=fmt, **options
        )
    except OSError as exc:
        raise ImagingError(f"cannot write {out}: {exc.strerror or exc}") from None


def _pixels_arg(text: str | None, option: str) -> tuple[int, int] | None:
    """WIDTHxHEIGHT of a render option, or None when not given."""
    if not text:
        return None
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise CliError(f"bad {option} {text!r}: use WIDTHxHEIGHT, e.g. 512x512") from exc
    return width, height


def cmd_render(args: argparse.Namespace) -> int:
    """Render one frame of a DICOM file (PNG, JPEG or TIFF by suffix) as the viewer does."""
    from tuipacs.imaging.errors import ImagingError, is_fatal, short_reason
    from tuipacs.view.export import render_image, save_png, view_options

    out = Path(args.output)
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise CliError(f"cannot tell the image format of {out.name!r}: name it {known}")
    load_config()
    try:
        view = view_options(
            size=_pixels_arg(args.size, "--size"),
            cell=_pixels_arg(args.cell, "--cell"),
            invert=args.invert,
            rotate=args.rotate,
            flip_h="h" in args.flip,
            flip_v="v" in args.flip,
            zoom=args.zoom,
        )
        image = render_image(
            Path(args.file),
            frame=args.frame,
            window=tuple(args.window) if args.window else None,
            preset=args.preset,
            overlays=not args.no_overlays,
            view=view,
        )
        if fmt == "PNG":
            save_png(image, out)
        else:
            _save(image, out, fmt)
    except ImagingError as exc:
        raise CliError(str(exc)) from exc
    except BaseException as exc:  # a decoder's panic (pyo3 PanicException) is no Exception
        if isinstance(exc, Exception) or is_fatal(exc):
            raise
        raise CliError(f"cannot render {Path(args.file).name}: {short_reason(exc)}") from None
    return 0
