"""Render one DICOM frame to a PNG: ``tuipacs render``'s functions, for imaging callers.

They live in :mod:`tuipacs.view.export` since ``tuipacs render`` goes through the viewer's
render path (so that its PNG is an oracle for the viewer); see that module for the choice
of window and the arithmetic (DCMTK's).
"""

from tuipacs.view.export import MAX_SIZE, render_image, render_to_file, save_png

__all__ = ["MAX_SIZE", "render_image", "render_to_file", "save_png"]
