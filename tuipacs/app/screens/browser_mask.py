"""The browser's part of the session's identity mask (mixed into the BrowserScreen): ``m``
masks or unmasks patient identity on every screen, and the mask set in the viewer holds here
when the reader comes back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tuipacs.app.settings import Settings
    from tuipacs.app.widgets.remote_panel import RemotePanel
    from tuipacs.app.widgets.study_table import StudyTable


class _Browser(Protocol):
    settings: Settings

    @property
    def studies(self) -> StudyTable: ...
    @property
    def remote(self) -> RemotePanel: ...
    def _fill_studies(self) -> None: ...
    def _apply_mask(self) -> None: ...


class BrowserMask:
    """The identity mask of the browser's tables."""

    def on_screen_resume(self: _Browser) -> None:
        """Back from the viewer: its mask holds here too."""
        self._apply_mask()

    def action_mask(self: _Browser) -> None:
        """Mask or unmask patient identity on every screen (until turned off)."""
        session = self.settings.session
        session.masked = not session.masked
        self._apply_mask()

    def _apply_mask(self: _Browser) -> None:
        """Show the tables masked as the session says (refilled when that changed)."""
        masked = self.settings.session.masked
        if self.studies.masked != masked:
            self.studies.masked = masked
            self._fill_studies()
        if self.remote.masked != masked:
            self.remote.masked = masked
            if self.remote.rows:
                self.remote.fill()
