"""``tuipacs render``: one frame of a DICOM file, or a sagittal or coronal reformat of a series
in the archive (``--series UID --mpr PLANE``), to PNG, JPEG or TIFF (by the output's suffix),
through the viewer's render path."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuipacs.cli.common import CliError, add_command, load_config

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from tuipacs.cli.common import Subparsers
    from tuipacs.view.export import ViewOptions


def register(sub: Subparsers) -> None:
    """Add ``render``."""
    render = add_command(
        sub,
        "render",
        cmd_render,
        "render one frame of a DICOM file (or a reformat of a series) to PNG, JPEG or TIFF, "
        "as the viewer",
    )
    render.add_argument("file", metavar="FILE", nargs="?", help="the DICOM file (not with --mpr)")
    render.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT.png",
        help="the suffix picks the format: .png, .jpg, .tif",
    )
    render.add_argument("--frame", type=int, help="frame number, 1-based (default 1)")
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
    mpr = render.add_argument_group("reformats (MPR) of a series in the archive")
    mpr.add_argument("--series", metavar="UID", help="the series to reformat (see 'tuipacs ls')")
    mpr.add_argument("--mpr", choices=("sagittal", "coronal"), help="the reformat's plane")
    mpr.add_argument(
        "--position",
        type=float,
        metavar="MM",
        help="patient x (sagittal) or y (coronal) in mm, as in Image Position (Patient); "
        "default: the centre of the volume",
    )
    mpr.add_argument("--slab", type=float, metavar="MM", help="thick slab of MM mm")
    mpr.add_argument(
        "--mode", choices=("mip", "minip", "avg"), help="how the slab is combined (default mip)"
    )


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
    reformat = _reformat_args(args)
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
        window = tuple(args.window) if args.window else None
        if reformat:
            image = _render_reformat(args, window, view)
        else:
            image = render_image(
                Path(args.file),
                frame=1 if args.frame is None else args.frame,
                window=window,
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
        what = f"series {args.series}" if reformat else Path(args.file).name
        raise CliError(f"cannot render {what}: {short_reason(exc)}") from None
    return 0


def _reformat_args(args: argparse.Namespace) -> bool:
    """Whether the arguments ask for a reformat; CliError for a combination that makes no
    sense (a file and a series, a slab without a reformat...)."""
    if args.series is None and args.mpr is None:
        extra = [
            o
            for o, v in (
                ("--position", args.position),
                ("--slab", args.slab),
                ("--mode", args.mode),
            )
            if v is not None
        ]
        if extra:
            raise CliError(f"{extra[0]} needs --series UID --mpr sagittal|coronal")
        if args.file is None:
            raise CliError("give a FILE to render, or --series UID --mpr sagittal|coronal")
        return False
    if args.file is not None:
        raise CliError("give either a FILE or --series UID --mpr, not both")
    if args.series is None:
        raise CliError("--mpr needs --series UID: reformats are made of a series in the archive")
    if args.mpr is None:
        raise CliError("--series needs --mpr sagittal|coronal: a series renders as a reformat")
    if args.frame is not None:
        raise CliError("--frame does not apply to a reformat; use --position MM")
    if args.mode is not None and args.slab is None:
        raise CliError("--mode needs --slab MM (the thickness the mode combines)")
    return True


def _render_reformat(
    args: argparse.Namespace, window: tuple[float, ...] | None, view: ViewOptions
) -> NDArray[Any]:
    """The picture of ``--series UID --mpr PLANE``: the series' files from the archive, built
    into a volume (checked: one clear line when it cannot be reformatted), then reformatted
    and rendered as the viewer does."""
    from tuipacs.cli.common import open_archive
    from tuipacs.imaging.errors import ImagingError
    from tuipacs.imaging.volume import build_volume
    from tuipacs.store.query import list_instances
    from tuipacs.view.reformat import render_reformat

    rows = list_instances(open_archive(), args.series)
    if not rows:
        raise CliError(f"no series {args.series} in the archive (see 'tuipacs ls --study UID')")
    try:
        volume = build_volume([row.path for row in rows])
    except ImagingError as exc:
        raise CliError(f"cannot reformat series {args.series}: {exc}") from None
    center_width = (window[0], window[1]) if window else None
    return render_reformat(
        volume,
        args.mpr,
        position=args.position,
        thickness=args.slab,
        mode=args.mode or "mip",
        window=center_width,
        preset=args.preset,
        view=view,
    )
