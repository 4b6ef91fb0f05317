"""The viewer's priors: found in the background when a study opens, fetched on request.

:class:`PriorsFinder` is an invisible widget of the viewer. When mounted it lists the
patient's other studies in the archive at once, then asks the node the study came from (the
one it was retrieved from, else the first configured node, else none: local only) in the same
thread worker; a prior only on the node is fetched into the archive by :meth:`fetch`, in a
worker, with progress. It keeps the ranked list (:mod:`tuipacs.view.priors`) and tells the
priors screen when anything changed (:attr:`watcher`). Errors are one line, never raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Literal

from textual.widget import Widget

from tuipacs.app.messages import PriorsFound, RetrieveFinished, RetrieveProgressed
from tuipacs.app.widgets.remote_panel import query_error, retrieve_study
from tuipacs.remote import ClientFactory, RetrieveProgress, RetrieveResult
from tuipacs.safe_text import clean
from tuipacs.store.archive import Archive
from tuipacs.store.query import StudyRow
from tuipacs.view.priors import Candidate, Prior, merge, rank
from tuipacs.view.priors_find import find_local, find_remote, node_for

Severity = Literal["information", "warning", "error"]


class PriorsFinder(Widget):
    """The priors of one study: local and on its node, ranked; the fetch of one of them."""

    DEFAULT_CSS = "PriorsFinder { display: none; }"

    def __init__(
        self, archive: Archive, study: StudyRow, clients: ClientFactory, nodes: Sequence[str]
    ) -> None:
        super().__init__()
        self.archive = archive
        self.study = study
        self.clients = clients
        self.node = node_for(study, list(nodes))
        """The node asked ("" when none is configured: local only)."""
        self.current: Candidate | None = None
        self.local: list[Candidate] = []
        self.remote: list[Candidate] = []
        self.priors: list[Prior] = []
        """Ranked: the nearest comparable prior first."""
        self.local_line = "looking in the archive…"
        self.node_line = f"asking {clean(self.node)}…" if self.node else "no node: local only"
        self.fetching = ""
        """The Study Instance UID being fetched ("" when none)."""
        self.total = 0
        self.done = 0
        self.cancel_event: threading.Event | None = None
        self.last_result: RetrieveResult | None = None
        self.watcher: Callable[[], None] | None = None
        """Called after each change (the priors screen, while it is open)."""
        self.listeners: list[Callable[[], None]] = []
        """Called after each change too (the viewer's hanging protocol)."""

    def on_mount(self) -> None:
        """Start looking: the archive at once, then the node."""
        self._search(remote=True)

    # -- finding ----------------------------------------------------------------------------

    def _search(self, remote: bool) -> None:
        self.run_worker(
            lambda: self._find(remote), name="find_priors", group="priors", thread=True,
            exit_on_error=False,
        )  # fmt: skip

    def _find(self, remote: bool) -> None:
        """In a worker: the archive first, then (``remote``) the node."""
        uid = self.study.study_uid
        try:
            local = find_local(self.archive, uid)
        except Exception as exc:  # a locked or damaged index: one line
            self.post_message(PriorsFound(uid, "here", [], error=f"archive: {exc}"))
            return
        if local is None:
            self.post_message(PriorsFound(uid, "here", [], error="the study is not in the archive"))
            return
        self.post_message(PriorsFound(uid, "here", local.others, local.current))
        if not remote or not self.node:
            return
        if not local.patient_id:
            self.post_message(PriorsFound(uid, "node", [], error="no Patient ID to ask by"))
            return
        try:
            found = find_remote(self.clients(self.node), local.patient_id, local.issuer)
        except Exception as exc:
            self.post_message(PriorsFound(uid, "node", [], error=query_error(exc)))
            return
        self.post_message(PriorsFound(uid, "node", found))

    def on_priors_found(self, message: PriorsFound) -> None:
        """Keep what was found, rank again, tell the screen."""
        message.stop()
        if message.study_uid != self.study.study_uid:
            return
        error = clean(message.error.splitlines()[0])[:200] if message.error else ""
        if message.where == "here":
            if message.current is not None:
                self.current = message.current
            self.local = [] if error else list(message.candidates)
            self.local_line = f"archive: {error}" if error else f"{len(self.local)} here"
        else:
            uid = self.study.study_uid
            self.remote = [] if error else [c for c in message.candidates if c.study_uid != uid]
            name = clean(self.node)
            self.node_line = f"{name}: {error}" if error else f"{len(self.remote)} on {name}"
        self._rank()

    def _rank(self) -> None:
        if self.current is not None:
            current_uid = self.current.study_uid
            candidates = [c for c in merge(self.local, self.remote) if c.study_uid != current_uid]
            self.priors = rank(self.current, candidates)
        self.changed()

    def changed(self) -> None:
        """Tell the screen (if open) to show the new state."""
        if self.watcher is not None:
            self.watcher()
        for listener in list(self.listeners):
            listener()

    @property
    def status(self) -> str:
        """One line: what was found where, and the fetch."""
        line = f"{self.local_line} · {self.node_line}"
        if self.fetching:
            line += f" · fetching {self.done} of {self.total or '?'} · x cancels"
        return line

    # -- fetching ---------------------------------------------------------------------------

    def fetch(self, study_uid: str) -> str:
        """Fetch ``study_uid`` from the node into the archive in the background; "" when it
        started, else one line saying why not."""
        if self.fetching:
            return "a fetch is running; x cancels it"
        if not self.node:
            return "no node to fetch from"
        self.fetching, self.total, self.done = study_uid, 0, 0
        self.cancel_event = cancel = threading.Event()
        node, clients = self.node, self.clients

        def progress(state: RetrieveProgress) -> None:
            self.post_message(RetrieveProgressed(study_uid, state))

        def work() -> None:
            result = retrieve_study(clients, node, study_uid, progress, cancel)
            self.post_message(RetrieveFinished(result))

        self.run_worker(
            work, name="fetch_prior", group="prior-fetch", thread=True, exit_on_error=False
        )
        self.changed()
        return ""

    def on_retrieve_progressed(self, message: RetrieveProgressed) -> None:
        """Count the fetch's images."""
        message.stop()
        state = message.progress
        self.total = max(0, state.total)
        self.done = state.completed + state.skipped + state.failed
        self.changed()

    def on_retrieve_finished(self, message: RetrieveFinished) -> None:
        """The fetch ended: say how, and list the archive again (the prior is here now)."""
        message.stop()
        result = self.last_result = message.summary
        self.fetching = ""
        self.cancel_event = None
        line, severity = _result_line(result)
        self.notify(line, severity=severity, timeout=8, markup=False)
        self._search(remote=False)
        self.changed()

    def cancel(self) -> bool:
        """Ask the running fetch to stop; False when none runs."""
        if self.cancel_event is None:
            return False
        self.cancel_event.set()
        return True

    def on_unmount(self) -> None:
        """The viewer closes: stop a running fetch soon."""
        self.cancel()


def _result_line(result: RetrieveResult) -> tuple[str, Severity]:
    """The notification of a finished fetch: its line and severity."""
    line = f"prior: {result.completed} received, {result.failed} failed"
    if result.skipped:
        line += f", {result.skipped} already here"
    if result.cancelled:
        line += " (cancelled)"
    if result.errors:
        return f"{line}: {clean(result.errors[0].splitlines()[0])}", "error"
    if result.failed or result.cancelled:
        return line, "warning"
    return line, "information"
