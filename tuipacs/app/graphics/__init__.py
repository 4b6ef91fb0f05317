"""Terminal graphics for tuipacs: detection and encoders for Kitty, Sixel and half-cells.

Independent of DICOM: the input is an already windowed uint8 array. The Textual widget that
uses these is ``tuipacs.app.widgets.image_view.ImageView``.

Start-up, before ``App.run()``::

    config, probe = detect_graphics(setting)   # setting: auto | kitty | sixel | halfcell
    configure(config)                          # every ImageView then uses it
"""

from tuipacs.app.graphics.geometry import Box, CellSize
from tuipacs.app.graphics.probe import (
    BACKENDS,
    SETTINGS,
    GraphicsConfig,
    GraphicsError,
    ProbeResult,
    choose_backend,
    configure,
    current_config,
    detect_graphics,
    probe_terminal,
)

__all__ = [
    "BACKENDS",
    "SETTINGS",
    "Box",
    "CellSize",
    "GraphicsConfig",
    "GraphicsError",
    "ProbeResult",
    "choose_backend",
    "configure",
    "current_config",
    "detect_graphics",
    "probe_terminal",
]
