"""Imaging: decode DICOM frames and turn them into display grey levels (pure, no UI).

Public API (frame indices are 0-based except ``render_to_file``'s ``frame``):

Errors (:mod:`tuipacs.imaging.errors`)
    ``ImagingError(Exception)``: one-line message for anything that cannot be shown;
    subclasses ``NotDicomError``, ``NoPixelDataError``, ``FrameRangeError``,
    ``DecodeError``.

Pipeline (:mod:`tuipacs.imaging.pipeline`)
    ``DisplayPipeline.open(path, header_only=True)`` or ``DisplayPipeline(ds, path)``;
    ``.frame_count``, ``.is_color``, ``.invert``, ``.modality_frame(i)`` (int16/float32
    modality values, RGB uint8 for colour), ``.windows(i)`` (every stored
    :class:`Window` with explanation), ``.window_list(i)`` ((center, width,
    explanation) tuples), ``.voi_luts(i)``, ``.default_window(i, values)``,
    ``.default_voi(i, values)``, ``.presets()``, ``.preset_window(name, i, values)``,
    ``.to_uint8(values, window, function=None, invert=None)``, ``.grey_frame(i, voi)``,
    ``.display_frame(i, voi)``, ``.overlays()``, ``.pixel_spacing(i)``,
    ``.pixel_aspect(i)``.

VOI (:mod:`tuipacs.imaging.voi`)
    ``Window(center, width, explanation, function)``, ``VoiFunction`` (LINEAR,
    LINEAR_EXACT, SIGMOID), ``to_uint8(values, window, function, invert, out=None)``
    (fast, preallocated float32 buffers), ``to_uint8_exact(...)`` (DCMTK arithmetic).

Presets (:mod:`tuipacs.imaging.presets`)
    ``presets_for(modality)``, ``find_preset(name)``, ``minmax_window(values)``,
    ``auto_window(values)``, ``CT_PRESETS``.

Pixel geometry (:mod:`tuipacs.imaging.viewport`, :mod:`tuipacs.imaging.resample`)
    ``pixel_spacing(ds)``, ``pixel_aspect(ds)``; the resampling of display arrays
    (``resample.fit_into``, ``resize``, ``letterbox``...). The viewer's viewport model
    (orientation, zoom, pan) is :mod:`tuipacs.view.viewport`.

Cache (:mod:`tuipacs.imaging.cache`)
    ``FrameCache(loader=None, budget_bytes=512 MiB, workers=2)`` with ``get(source,
    frame)``, ``peek``, ``put``, ``prefetch(keys)``, ``prefetch_around(keys, position)``,
    ``cancel_pending()``, ``bytes_used``, ``close()``.

Rendering (:mod:`tuipacs.imaging.render`)
    ``render_to_file(path, out, *, frame=1, window=None, preset=None, size=None,
    overlays=True)`` and ``render_image(...)`` (the array it writes).

Limits (:mod:`tuipacs.imaging.limits`, pure)
    ``DECODE_LIMIT`` (1 GiB a decoded frame), ``PixelLayout``, ``pixel_problem(layout,
    limit)``: the one check of a pixel description, used by the decode path, import and
    the Storage SCP.

The names above load their module on first use, so ``tuipacs.imaging.limits`` (what the
archive and the server need) comes without numpy or Pillow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuipacs.imaging.cache import FrameCache, PipelineLoader
    from tuipacs.imaging.errors import (
        DecodeError,
        FrameRangeError,
        ImagingError,
        NoPixelDataError,
        NotDicomError,
    )
    from tuipacs.imaging.pipeline import DisplayPipeline
    from tuipacs.imaging.presets import (
        CT_PRESETS,
        Preset,
        auto_window,
        find_preset,
        minmax_window,
        presets_for,
    )
    from tuipacs.imaging.render import render_image, render_to_file
    from tuipacs.imaging.viewport import pixel_aspect, pixel_spacing
    from tuipacs.imaging.voi import VoiFunction, Window, to_uint8, to_uint8_exact

_HOME = {
    "FrameCache": "cache",
    "PipelineLoader": "cache",
    "DecodeError": "errors",
    "FrameRangeError": "errors",
    "ImagingError": "errors",
    "NoPixelDataError": "errors",
    "NotDicomError": "errors",
    "DisplayPipeline": "pipeline",
    "CT_PRESETS": "presets",
    "Preset": "presets",
    "auto_window": "presets",
    "find_preset": "presets",
    "minmax_window": "presets",
    "presets_for": "presets",
    "render_image": "render",
    "render_to_file": "render",
    "pixel_aspect": "viewport",
    "pixel_spacing": "viewport",
    "VoiFunction": "voi",
    "Window": "voi",
    "to_uint8": "voi",
    "to_uint8_exact": "voi",
}


def __getattr__(name: str) -> Any:
    """Load the module that defines ``name`` on first use (PEP 562)."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "CT_PRESETS",
    "DecodeError",
    "DisplayPipeline",
    "FrameCache",
    "FrameRangeError",
    "ImagingError",
    "NoPixelDataError",
    "NotDicomError",
    "PipelineLoader",
    "Preset",
    "VoiFunction",
    "Window",
    "auto_window",
    "find_preset",
    "minmax_window",
    "pixel_aspect",
    "pixel_spacing",
    "presets_for",
    "render_image",
    "render_to_file",
    "to_uint8",
    "to_uint8_exact",
]
