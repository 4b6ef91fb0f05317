"""Terminal graphics without Textual: detection, and encoders for Kitty and Sixel.

Independent of DICOM: the input is an already windowed uint8 array. The Textual widget that
uses these is ``tuipacs.app.widgets.image_view.ImageView`` (with the half-cell renderer of
``tuipacs.app.graphics``, which needs Textual's strips).

Start-up, before ``App.run()``::

    config, probe = detect_graphics(setting)   # setting: auto | kitty | sixel | halfcell
    configure(config)                          # every ImageView then uses it
"""

from tuipacs.view.graphics.probe import (
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
    "GraphicsConfig",
    "GraphicsError",
    "ProbeResult",
    "choose_backend",
    "configure",
    "current_config",
    "detect_graphics",
    "probe_terminal",
]
