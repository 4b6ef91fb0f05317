"""The viewer's priors (mixed into the ViewerScreen): ``P`` lists the patient's other studies
(found in the background since the study opened, by its
:class:`~tuipacs.app.widgets.priors_finder.PriorsFinder`); a study chosen there is shown with
:class:`~tuipacs.app.messages.ShowPrior`: beside the open one, in a layout of two viewports or
more."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from tuipacs.app.messages import ShowPrior
from tuipacs.store.query import get_study
from tuipacs.view.priors import comparable_series

if TYPE_CHECKING:
    from textual.app import App

    from tuipacs.app.screens.viewer import ViewerScreen
    from tuipacs.app.settings import Settings
    from tuipacs.app.widgets.priors_finder import PriorsFinder
    from tuipacs.remote import ClientFactory
    from tuipacs.store.archive import Archive
    from tuipacs.store.query import StudyRow
    from tuipacs.view.state import ViewerState


class _Viewer(Protocol):
    """What the priors use of the screen."""

    archive: Archive
    study: StudyRow
    settings: Settings
    state: ViewerState
    clients: ClientFactory
    priors: PriorsFinder

    @property
    def app(self) -> App[object]: ...
    def post_message(self, message: ShowPrior) -> bool: ...


class ViewerPriors:
    """``P`` and :class:`ShowPrior` (mixed into the ViewerScreen)."""

    def action_priors(self: _Viewer) -> None:
        """List the patient's other studies; Enter shows one (or fetches it first)."""
        from tuipacs.app.screens.priors import PriorsScreen

        def chosen(study_uid: str | None) -> None:
            if study_uid:
                self.post_message(ShowPrior(study_uid))

        screen = PriorsScreen(self.priors, self.study.patient_name, self.state.masked)
        self.app.push_screen(screen, chosen)

    def on_show_prior(self: _Viewer, message: ShowPrior) -> None:
        """Show the prior beside the study (1x2 from one viewport; else in the active
        viewport, or the second when the study's own is active), at its series comparable
        with the active one's, synchronised from where it was linked."""
        message.stop()
        study = get_study(self.archive, message.study_uid)
        if study is None:
            self.app.notify("that study is no longer in the archive", severity="warning")
            return
        screen = cast("ViewerScreen", self)
        active = screen.panes[screen.active]
        series = active.loader.series
        current = series[active.loader.index] if series else None
        if len(screen.panes) < 2:
            screen.set_grid("1x2", fill=False)
            target = None
        else:
            target = screen.active if screen.active != 0 else 1
        pane = screen.open_pane(study, "", target)
        modality = current.modality if current else ""
        description = current.description if current else ""
        pane.loader.prefer = lambda rows: comparable_series(rows, modality, description)
