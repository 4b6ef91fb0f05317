"""The viewer's priors (mixed into the ViewerScreen): ``P`` lists the patient's other studies
(found in the background since the study opened, by its
:class:`~tuipacs.app.widgets.priors_finder.PriorsFinder`); a study chosen there is shown with
:class:`~tuipacs.app.messages.ShowPrior` (in a viewer of its own for now: a layout will show
it beside the open one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tuipacs.app.messages import ShowPrior
from tuipacs.store.query import get_study

if TYPE_CHECKING:
    from textual.app import App

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
        """Show the prior in a viewer of its own (Esc comes back to this one)."""
        from tuipacs.app.screens.viewer import ViewerScreen

        message.stop()
        study = get_study(self.archive, message.study_uid)
        if study is None:
            self.app.notify("that study is no longer in the archive", severity="warning")
            return
        viewer = ViewerScreen(self.archive, study, "", self.settings, self.clients)
        self.app.push_screen(viewer)
