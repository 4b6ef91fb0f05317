#!/usr/bin/env python3
"""Benchmark the viewer's image backends against textual-image's widgets, in one run.

Picture: a 512 x 512 CT-like synthetic slice (tests/synthetic.py), window 400/40;
terminal: 160 x 50 cells of 10 x 20 px (1600 x 1000 px). For each backend (kitty, sixel,
halfcell) it measures KiB and ms per window/level step and per image step:

1. encoder level: window + encode (+ ANSI rendering for half-cells), bytes produced;
2. pty level: the widget in a real Textual app on a pty (unless --no-pty): a key press
   changes the window (or the image); bytes the app writes for that step, and ms from the
   key press to the last byte of the step (includes Textual's own work).

textual-image's TGPImage / SixelImage / HalfcellImage are measured the same way, sized to the
same cell box. Then cold start to interactive (scripts/bench_startup.py's measurement: tuipacs
until its browser lists the archive, next to a trivial Textual app). Targets: Kitty <= 180 KiB
and <= 12 ms per step; half-cell <= 10 ms per step; start < 1 s. Last, the viewer over a
modelled SSH link at 2 and 10 Mbit/s and locally (scripts/link_bench.py): frames per second
while a key is held and in cine, KiB per frame, settle time after release, frames after pause.

MPR (its own table): the 300-slice 512 x 512 demo CT is written to a temporary folder; the
time to build its volume from the files and make one sagittal reformat (target: < 1 s), then
ms per position step of a reformat, alone and with its window to 8-bit grey (no terminal);
then (unless --no-pty) the pty-level step: the ImageView app stepping sagittal planes of that
CT (the viewer's frame source and render path), key press -> last byte, in Kitty and half-cell
(target: <= 12 ms per step in Kitty).

Usage: python scripts/bench_viewer.py [--steps N] [--starts N] [--no-pty] [--no-link]
       [--link-only] [--no-mpr] [--mpr-only] [--mpr-slices N]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import os
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the synthetic test pictures

import bench_startup  # noqa: E402  (scripts/ is on sys.path: this file runs as a script)
import link_bench  # noqa: E402  (the viewer over a modelled SSH link)
from synthetic import ct_phantom, window  # noqa: E402

from tuipacs.view.layout import CellSize, fit_box  # noqa: E402

COLS, ROWS, XPIXEL, YPIXEL = 160, 50, 1600, 1000
CELL = CellSize(10, 20)
AREA_ROWS = ROWS - 1  # one status line under the picture
WINDOWS = [(400.0 + 20.0 * i, 40.0 + 5.0 * (i % 3)) for i in range(64)]
BACKENDS = ("kitty", "sixel", "halfcell")


@dataclass
class Figures:
    """Mean KiB and median ms per step, for window/level steps and image steps."""

    wl_kib: float
    wl_ms: float
    img_kib: float
    img_ms: float


def slices(count: int) -> list[np.ndarray]:
    """``count`` different CT-like slices (HU)."""
    return [ct_phantom(512, seed=1 + i, noise_hu=12.0 + i % 3) for i in range(count)]


def box_for_512() -> tuple[int, int]:
    """(cols, rows) of the aspect-correct box of a 512^2 picture in the picture area."""
    box = fit_box((512, 512), 1.0, COLS, AREA_ROWS, CELL)
    return box.cols, box.rows


# --------------------------------------------------------------------------- encoder level


def _measure(steps: Callable[[int], int], count: int) -> tuple[float, float]:
    """Run ``steps(i)`` (returns bytes) ``count`` times after a warm-up: (KiB, ms)."""
    steps(count + 1)
    sizes, times = [], []
    for i in range(count):
        start = time.perf_counter()
        sizes.append(steps(i))
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.mean(sizes) / 1024.0, statistics.median(times)


def ours_encoder(backend: str, count: int, hu: list[np.ndarray]) -> Figures:
    """Our encoder for ``backend``: a W/L step and an image step each encode one frame."""
    from rich.console import Console

    from tuipacs.app.graphics.backend import FrameRequest, encode_frame
    from tuipacs.app.widgets.image_view import ImageView
    from tuipacs.view.graphics.probe import GraphicsConfig
    from tuipacs.view.link import FULL

    encoder = ImageView(config=GraphicsConfig(backend, CELL), image_id=0x123456).graphics
    console = Console(file=io.StringIO(), color_system="truecolor", force_terminal=True)
    box = fit_box((512, 512), 1.0, COLS, AREA_ROWS, CELL)
    if backend == "sixel":
        box = fit_box((512, 512), 1.0, COLS, AREA_ROWS - 2, CELL)

    def step(frame: np.ndarray) -> int:
        request = FrameRequest(1, frame, 1.0, FULL, backend, box, CELL, 0x123456, False)
        encoded = encode_frame(encoder, request)
        if backend == "halfcell":
            return sum(len(s.render(console).encode()) for s in encoded.strips)
        return len(encoded.data.encode())

    wl = _measure(lambda i: step(window(hu[0], *WINDOWS[i % len(WINDOWS)])), count)
    img = _measure(lambda i: step(window(hu[i % len(hu)], 400, 40)), count)
    return Figures(wl[0], wl[1], img[0], img[1])


@contextlib.contextmanager
def _captured_stdout() -> Iterator[io.StringIO]:
    """textual-image's Kitty code writes to sys.__stdout__ directly: count it."""
    sink = io.StringIO()
    saved = sys.__stdout__
    sys.__stdout__ = sink  # type: ignore[misc,assignment]
    try:
        yield sink
    finally:
        sys.__stdout__ = saved  # type: ignore[misc]


def textual_image_encoder(backend: str, count: int, hu: list[np.ndarray]) -> Figures:
    """textual-image's renderables doing what its widgets do on every update."""
    from PIL import Image
    from rich.console import Console
    from textual_image._pixeldata import PixelData
    from textual_image._sixel import image_to_sixels
    from textual_image.renderable.halfcell import Image as HalfcellRenderable
    from textual_image.renderable.tgp import Image as TGPRenderable

    cols, rows = box_for_512()

    def step(frame: np.ndarray) -> int:
        picture = Image.fromarray(frame)
        out = io.StringIO()
        console = Console(
            file=out, color_system="truecolor", force_terminal=True, width=cols, height=rows
        )
        if backend == "sixel":
            scaled = PixelData(picture).scaled(cols * CELL.width, (rows - 2) * CELL.height)
            return len(image_to_sixels(scaled.pil_image).encode())
        renderable: object
        if backend == "kitty":
            renderable = TGPRenderable(picture, cols, rows)
        else:
            renderable = HalfcellRenderable(picture, cols, rows)
        with _captured_stdout() as sink:
            console.print(renderable, end="")
        return len(sink.getvalue().encode()) + len(out.getvalue().encode())

    wl = _measure(lambda i: step(window(hu[0], *WINDOWS[i % len(WINDOWS)])), count)
    img = _measure(lambda i: step(window(hu[i % len(hu)], 400, 40)), count)
    return Figures(wl[0], wl[1], img[0], img[1])


# --------------------------------------------------------------------------- pty level


MPR_FOLDER = "TUIPACS_BENCH_MPR"
"""Environment variable naming the folder of the CT the MPR child app reformats."""


def run_mpr_child(backend: str) -> None:
    """The MPR app under test (inside the pty): ``n`` shows the next sagittal plane of the CT
    in ``$TUIPACS_BENCH_MPR``, through the viewer's frame source and render path."""
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    from tuipacs.app.graphics.flow import FlowApp
    from tuipacs.app.widgets.image_view import ImageView
    from tuipacs.imaging.volume import build_volume
    from tuipacs.view.graphics import configure, detect_graphics
    from tuipacs.view.reformat_stack import ReformatStack
    from tuipacs.view.render import RenderRequest, render
    from tuipacs.view.viewport import Orientation

    volume = build_volume(sorted(Path(os.environ[MPR_FOLDER]).glob("*.dcm")))
    stack = ReformatStack(volume, "sagittal")
    config, _ = detect_graphics(backend)
    configure(config)
    view_px = (float(AREA_ROWS * CELL.height), float(COLS * CELL.width))

    class MprApp(FlowApp, App):  # type: ignore[misc]
        CSS = "Screen { align: center top; } #status { height: 1; dock: bottom; }"
        BINDINGS = [("n", "step_plane", ""), ("q", "quit", "")]

        def __init__(self) -> None:
            super().__init__()
            self.view = ImageView(auto_preview=False)
            self.index = stack.centre_index

        def compose(self) -> ComposeResult:
            yield self.view
            yield Static("", id="status")

        def on_mount(self) -> None:
            self.redraw()

        def redraw(self) -> None:
            frame = stack.get(self.index)
            request = RenderRequest(
                0, self.index, None, False, Orientation(), 1.0, (0.0, 0.0), view_px
            )
            rendered = render(frame, request)
            self.view.show(rendered.array, rendered.aspect)

        def action_step_plane(self) -> None:
            self.index = (self.index + 1) % len(stack)
            self.redraw()

    MprApp().run()


def run_child(impl: str, backend: str) -> None:
    """The app under test (runs inside the pty): ``w`` changes the window, ``n`` the image."""
    if impl == "mpr":
        run_mpr_child(backend)
        return
    from textual.app import App, ComposeResult
    from textual.widget import Widget
    from textual.widgets import Static

    hu = slices(4)
    cols, rows = box_for_512()

    def make_view() -> Widget:
        if impl == "ours":
            from tuipacs.app.widgets.image_view import ImageView
            from tuipacs.view.graphics import configure, detect_graphics

            config, _ = detect_graphics(backend)
            configure(config)
            return ImageView(auto_preview=False)
        from textual_image.widget import HalfcellImage, SixelImage, TGPImage

        classes = {"kitty": TGPImage, "sixel": SixelImage, "halfcell": HalfcellImage}
        view = classes[backend]()
        view.styles.width = cols
        view.styles.height = rows - 2 if backend == "sixel" else rows
        return view

    from tuipacs.app.graphics.flow import FlowApp

    # ours runs with the app's flow control (the harness answers its queries as a terminal)
    base: type = type("FlowBase", (FlowApp, App), {}) if impl == "ours" else App

    class BenchApp(base):  # type: ignore[misc, valid-type]
        CSS = "Screen { align: center top; } #status { height: 1; dock: bottom; }"
        BINDINGS = [("w", "step_window", ""), ("n", "step_image", ""), ("q", "quit", "")]

        def __init__(self) -> None:
            super().__init__()
            self.view = make_view()
            self.wl = 0
            self.index = 0

        def compose(self) -> ComposeResult:
            yield self.view
            yield Static("", id="status")

        def on_mount(self) -> None:
            self.redraw()

        def redraw(self) -> None:
            frame = window(hu[self.index % len(hu)], *WINDOWS[self.wl % len(WINDOWS)])
            if impl == "ours":
                self.view.show(frame)  # type: ignore[attr-defined]
            else:
                from PIL import Image

                self.view.image = Image.fromarray(frame)  # type: ignore[attr-defined]

        def action_step_window(self) -> None:
            self.wl += 1
            self.redraw()

        def action_step_image(self) -> None:
            self.index += 1
            self.redraw()

    BenchApp().run()


class PtyRun:
    """Runs this script's child app in a pty sized like the target terminal."""

    def __init__(self, impl: str, backend: str) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, XPIXEL, YPIXEL))
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
        env.pop("TMUX", None)
        env.pop("TUIPACS_GRAPHICS", None)
        command = [sys.executable, __file__, "--child", impl, backend]
        self.proc = subprocess.Popen(
            command, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)

    def collect(self, timeout: float, quiet: float) -> tuple[int, float]:
        """Bytes until the output has been quiet for ``quiet`` s; time of the last byte."""
        total, last = 0, time.perf_counter()
        deadline = time.monotonic() + timeout
        seen = False
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.master], [], [], 0.02)
            if readable:
                try:
                    chunk = os.read(self.master, 1 << 16)
                except OSError:
                    break
                total += len(chunk)
                last = time.perf_counter()
                seen = True
                for _ in range(chunk.count(b"\x1b[6n")):  # a terminal answers the frame gate
                    os.write(self.master, b"\x1b[1;1R")
            elif seen and time.perf_counter() - last >= quiet:
                break
        return total, last

    def step(self, key: bytes) -> tuple[int, float]:
        """Press ``key``: (bytes written for the step, ms until its last byte)."""
        start = time.perf_counter()
        os.write(self.master, key)
        size, last = self.collect(timeout=30.0, quiet=0.6)
        return size, (last - start) * 1000.0

    def close(self) -> None:
        """Quit the app (terminate by PID if it does not)."""
        with contextlib.suppress(OSError):
            os.write(self.master, b"q")
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.close(self.master)


def pty_figures(impl: str, backend: str, count: int) -> tuple[Figures, float]:
    """Per-step figures in a pty, plus the KiB written at start-up."""
    run = PtyRun(impl, backend)
    try:
        startup, _ = run.collect(timeout=60.0, quiet=1.5)
        wl = [run.step(b"w") for _ in range(count)]
        img = [run.step(b"n") for _ in range(max(2, count // 2))]
    finally:
        run.close()

    def summary(steps: list[tuple[int, float]]) -> tuple[float, float]:
        return (
            statistics.mean(s for s, _ in steps) / 1024.0,
            statistics.median(ms for _, ms in steps),
        )

    (wk, wm), (ik, im) = summary(wl), summary(img)
    return Figures(wk, wm, ik, im), startup / 1024.0


# --------------------------------------------------------------------------- report


def _row(label: str, figures: Figures, extra: str = "") -> str:
    return (
        f"{label:<26}{figures.wl_kib:>9.1f}{figures.wl_ms:>9.1f}"
        f"{figures.img_kib:>10.1f}{figures.img_ms:>9.1f}  {extra}"
    )


def _ratio(ours: Figures, theirs: Figures) -> str:
    return f"x{theirs.wl_kib / ours.wl_kib:.1f} bytes, x{theirs.wl_ms / ours.wl_ms:.1f} time"


MPR_STEPS = 24
"""Position steps timed per reformat row."""


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000.0


def _demo_ct(folder: Path, slices: int) -> list[Path]:
    """Write the demo CT's ``slices`` slices (only the CT) into ``folder``."""
    from pydicom import dcmwrite

    from tuipacs.demo import iods as demo_iods

    paths = []
    for relative, dataset in demo_iods.ct_instances(slices):
        path = folder / relative.name
        dcmwrite(path, dataset, enforce_file_format=True)
        paths.append(path)
    return paths


def mpr_report(slices: int, repeats: int = 3) -> None:
    """Time building the demo CT's volume and one sagittal reformat, then position steps."""
    from tuipacs.imaging.mpr import Reformatter
    from tuipacs.imaging.volume import build_volume
    from tuipacs.view.reformat import reformat_frame
    from tuipacs.view.render import RenderRequest, render
    from tuipacs.view.viewport import Orientation

    with tempfile.TemporaryDirectory(prefix="tuipacs-mpr-") as tmp:
        paths = _demo_ct(Path(tmp), slices)
        builds, cuts, totals = [], [], []
        volume = None
        for _ in range(repeats):
            volume = None  # the previous volume's memory goes first
            start = time.perf_counter()
            volume = build_volume(paths)
            built = time.perf_counter()
            Reformatter(volume, "sagittal").reformat()
            done = time.perf_counter()
            builds.append(built - start)
            cuts.append(done - built)
            totals.append(done - start)
    assert volume is not None
    k, i, j = volume.shape
    print(
        f"\nMPR: {k}-slice {i}x{j} demo CT (files just written: in the page cache), "
        f"median of {repeats}"
    )
    print(f"  build the volume            {_median_ms(builds):7.0f} ms")
    print(f"  one sagittal reformat       {_median_ms(cuts):7.1f} ms")
    print(f"  build + sagittal reformat   {_median_ms(totals):7.0f} ms   (target < 1000 ms)")
    print(f"\n{'ms per position step':<34}{'reformat':>9}{'+ window':>10}")
    for plane, slab, mode in (
        ("sagittal", None, "mip"),
        ("sagittal", 10.0, "mip"),
        ("coronal", None, "mip"),
        ("coronal", 10.0, "avg"),
    ):
        tool = Reformatter(volume, plane)
        centre = tool.index_at(tool.centre)
        positions = [tool.position_of(centre + n - MPR_STEPS // 2) for n in range(MPR_STEPS)]
        alone, windowed = [], []
        for position in positions:
            start = time.perf_counter()
            ref = tool.reformat(position, slab, mode)
            made = time.perf_counter()
            frame = reformat_frame(volume, ref)
            view_px = (float(ref.values.shape[0]), float(ref.values.shape[1]))
            request = RenderRequest(0, 0, None, False, Orientation(), 1.0, (0.0, 0.0), view_px)
            render(frame, request)
            end = time.perf_counter()
            alone.append(made - start)
            windowed.append(end - start)
        label = f"{plane}" + (f", {slab:g} mm {mode} slab" if slab else "")
        print(f"  {label:<32}{_median_ms(alone):>9.2f}{_median_ms(windowed):>10.2f}")


def mpr_pty_report(slices: int, count: int) -> None:
    """Key press -> last byte of a sagittal plane step, in Kitty and half-cell (a pty)."""
    with tempfile.TemporaryDirectory(prefix="tuipacs-mpr-pty-") as tmp:
        _demo_ct(Path(tmp), slices)
        os.environ[MPR_FOLDER] = tmp
        print(f"\nMPR, pty level: sagittal plane step (n) of the {slices}-slice demo CT")
        print(f"{'':<26}{'KiB':>9}{'ms':>9}")
        try:
            for backend in ("kitty", "halfcell"):
                run = PtyRun("mpr", backend)
                try:
                    run.collect(timeout=120.0, quiet=1.5)  # the volume is built first
                    steps = [run.step(b"n") for _ in range(count)]
                finally:
                    run.close()
                kib = statistics.mean(size for size, _ in steps) / 1024.0
                ms = statistics.median(ms for _, ms in steps)
                print(f"  {backend:<24}{kib:>9.1f}{ms:>9.1f}")
        finally:
            os.environ.pop(MPR_FOLDER, None)
    print("  target: <= 12 ms per step in Kitty")


def main() -> None:
    """Parse arguments, run both levels, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="steps per measurement")
    parser.add_argument("--starts", type=int, default=3, help="cold starts to time")
    parser.add_argument("--no-pty", action="store_true", help="encoder level only")
    parser.add_argument(
        "--link-only",
        action="store_true",
        help="only the slow-link figures (settle after release, fps scrolling and in cine)",
    )
    parser.add_argument("--no-link", action="store_true", help="skip the slow-link figures")
    parser.add_argument("--no-mpr", action="store_true", help="skip the MPR figures")
    parser.add_argument("--mpr-only", action="store_true", help="only the MPR figures")
    parser.add_argument(
        "--mpr-slices", type=int, default=300, help="slices of the demo CT for the MPR figures"
    )
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "BACKEND"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(*args.child)
        return
    if args.link_only:
        link_bench.report()
        return
    if args.mpr_only:
        mpr_report(args.mpr_slices)
        if not args.no_pty:
            mpr_pty_report(args.mpr_slices, args.steps)
        return
    hu = slices(4)
    cols, rows = box_for_512()
    print(f"512x512 CT-like frame, {COLS}x{ROWS} cells, {XPIXEL}x{YPIXEL} px, box {cols}x{rows}")
    header = f"{'':<26}{'W/L KiB':>9}{'W/L ms':>9}{'img KiB':>10}{'img ms':>9}"
    print("\nencoder level (window + encode; half-cells include ANSI rendering)")
    print(header)
    for backend in BACKENDS:
        ours = ours_encoder(backend, args.steps, hu)
        theirs = textual_image_encoder(backend, max(2, args.steps // 2), hu)
        print(_row(f"{backend} tuipacs", ours))
        print(_row(f"{backend} textual-image", theirs, _ratio(ours, theirs)))
    if not args.no_mpr:
        mpr_report(args.mpr_slices)
    if args.no_pty:
        return
    if not args.no_mpr:
        mpr_pty_report(args.mpr_slices, args.steps)
    print("\npty level (key press -> last byte; bytes written by the app per step)")
    print(header + "  start KiB")
    for backend in BACKENDS:
        ours, ours_start = pty_figures("ours", backend, args.steps)
        theirs, theirs_start = pty_figures("textual-image", backend, args.steps)
        print(_row(f"{backend} tuipacs", ours, f"{ours_start:.0f}"))
        print(
            _row(f"{backend} textual-image", theirs, f"{theirs_start:.0f}  {_ratio(ours, theirs)}")
        )
    print(f"\ncold start to interactive (median of {args.starts}, {COLS}x{ROWS} pty, half-cell)")
    reference, started = bench_startup.measure(args.starts, "halfcell")
    print(f"  trivial Textual app      {statistics.median(reference) * 1000:6.0f} ms")
    print(f"  tuipacs, browser listed  {statistics.median(started) * 1000:6.0f} ms")
    print("\ntargets: kitty <= 180 KiB and <= 12 ms per step; half-cell <= 10 ms per step;")
    print("start < 1 s")
    if not args.no_link:
        link_bench.report()
        print("\ntargets: settle after release <= 0.5 s at 2 Mbit/s, 100 ms; >= 15 fps scrolling")
        print("at 10 Mbit/s; locally full frames at >= 30 fps; pause stops within one frame")


if __name__ == "__main__":
    main()
