"""The Send list over the browser: the configured nodes (DIMSE and DICOMweb); Enter sends the
study (or one series) to the highlighted node as stored, as ``tuipacs send --study`` does.

The send runs in a thread worker that only posts :class:`SendProgressed` and
:class:`SendFinished`; the progress bar counts files; Esc cancels (files already sent stay on
the node) and, once the send has ended, closes the list with the result's line.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from tuipacs.app.screens.export import one_line
from tuipacs.app.screens.job_modal import JobModal
from tuipacs.safe_text import clean

if TYPE_CHECKING:
    from tuipacs.remote import ClientFactory, SendResult
    from tuipacs.store.archive import Archive

NO_NODES = (
    "no nodes configured: add one with 'tuipacs node add NAME AE@host:port' (or a DICOMweb URL)"
)


@dataclass
class SendProgressed(Message):
    """``done`` of ``total`` files were sent (or failed)."""

    done: int
    total: int


@dataclass
class SendFinished(Message):
    """The send ended: ``line`` says how (one line); ``ok`` when every file was sent."""

    line: str
    ok: bool
    result: SendResult | None = None


@dataclass(frozen=True)
class SendJob:
    """What to send where: a study (only ``series_uids`` when given) to the node ``node``."""

    study_uid: str
    series_uids: tuple[str, ...]
    node: str


def send_line(node: str, result: SendResult, total: int, cancelled: bool) -> tuple[str, bool]:
    """One line for a send that ran (sent, warnings, failed with the first peer status or
    reason) and whether every file went."""
    node = clean(node)
    ok = result.sent == total and not result.failed and not cancelled
    if not result.sent and result.errors and not cancelled:
        return one_line(f"not sent to {node}: {result.errors[0][1]}"), False
    line = f"{result.sent} of {total} sent to {node}"
    if result.warnings:
        line += f" ({result.warnings} with warnings)"
    if result.failed:
        line += f", {result.failed} failed"
    if result.skipped:
        line += f", {result.skipped} skipped (not DICOM)"
    if cancelled:
        line += " (cancelled)"
    if result.errors:
        line += f"; the first: {result.errors[0][1]}"
    return one_line(line), ok


def failure_line(node: str, exc: BaseException) -> str:
    """One line for a send that could not run (never a traceback)."""
    from tuipacs.export.plan import ExportError
    from tuipacs.remote import RemoteError

    if isinstance(exc, ExportError | RemoteError):
        return one_line(f"not sent to {clean(node)}: {exc}")
    return one_line(f"not sent to {clean(node)}: {type(exc).__name__}: {exc}")


def run_send(
    archive: Archive,
    clients: ClientFactory,
    job: SendJob,
    post: Callable[[Message], object],
    cancel: threading.Event,
) -> None:
    """The files of ``job`` from the archive to its node (in a worker thread), posting
    progress and the end; never raises."""
    from tuipacs.export.plan import plan_export

    def progress(done: int, total: int) -> None:
        post(SendProgressed(done, total))

    try:
        plan = plan_export(archive, job.study_uid, list(job.series_uids) or None)
        paths = [item.path for item in plan.items]
        result = clients(job.node).send(paths, progress=progress, cancel=cancel)
    except Exception as exc:  # noqa: BLE001 - one line in the list, never a traceback
        post(SendFinished(failure_line(job.node, exc), False))
        return
    handled = result.sent + result.failed + result.skipped
    line, ok = send_line(job.node, result, len(paths), cancel.is_set() and handled < len(paths))
    post(SendFinished(line, ok, result))


def preload() -> None:
    """Import the senders in the UI thread (pydicom imported by a worker while the UI
    thread imports the viewer can fail half-initialised)."""
    import tuipacs.dicom.send
    import tuipacs.dicomweb.stow  # noqa: F401


class SendScreen(JobModal):
    """The configured nodes; Enter sends to the highlighted one with a progress bar, Esc
    cancels a running send, else closes (with the last line)."""

    DEFAULT_CSS = """
    SendScreen OptionList { height: auto; max-height: 12; }
    SendScreen #send-progress { height: 1; margin-top: 1; }
    SendScreen #send-line { height: auto; margin-top: 1; }
    SendScreen #send-line.-error { color: $error; }
    """
    NOUN = "send"
    LINE_ID = "send-line"

    def __init__(
        self,
        archive: Archive,
        clients: ClientFactory,
        nodes: list[tuple[str, str]],
        study_uid: str,
        series_uids: tuple[str, ...],
        title: str,
    ) -> None:
        """Send ``study_uid`` (only ``series_uids`` when given) of ``archive`` to one of
        ``nodes`` ((name, address) pairs) through ``clients``; ``title`` names it."""
        super().__init__()
        self.archive = archive
        self.clients = clients
        self.nodes = nodes
        self.study_uid = study_uid
        self.series_uids = series_uids
        self.title_text = title
        self.ok = False

    def compose(self) -> ComposeResult:
        """The nodes, the progress bar and the line."""
        with Vertical(id="send-box") as box:
            box.border_title = Text(self.title_text)
            box.border_subtitle = "Enter sends · Esc closes"
            width = max((len(name) for name, _ in self.nodes), default=0)
            options = [
                Option(Text(f"{clean(name):<{width}}  {clean(address)}"), id=name)
                for name, address in self.nodes
            ]
            yield OptionList(*options, id="send-nodes", compact=True)
            bar = ProgressBar(id="send-progress", show_eta=False)
            yield bar.data_bind(total=SendScreen.total, progress=SendScreen.done)
            yield Static("", id="send-line", markup=False)

    def on_mount(self) -> None:
        """The bar hidden until the send starts; a line when there is nowhere to send."""
        self.query_one("#send-progress").display = False
        nodes = self.query_one("#send-nodes", OptionList)
        if not self.nodes:
            nodes.display = False
            self.show(NO_NODES, error=True)
        else:
            nodes.highlighted = 0
            nodes.focus()

    @on(OptionList.OptionSelected, "#send-nodes")
    def node_chosen(self, event: OptionList.OptionSelected) -> None:
        """Enter on a node: send to it."""
        if event.option.id is not None:
            self.start(event.option.id)

    def start(self, node: str) -> None:
        """Send to ``node`` in a worker (one send at a time)."""
        if self.cancel_event is not None:
            return
        preload()
        job = SendJob(self.study_uid, self.series_uids, node)
        self.cancel_event = cancel = threading.Event()
        self.finished, self.ok = False, False
        self.total, self.done = None, 0.0
        self.query_one("#send-progress").display = True
        self.query_one("#send-nodes").disabled = True
        self.show(f"sending to {clean(node)}… Esc cancels")
        self.query_one(Vertical).border_subtitle = "Esc cancels"
        archive, clients, post = self.archive, self.clients, self.post_message
        self.run_worker(
            lambda: run_send(archive, clients, job, post, cancel),
            name="send", group="send", thread=True, exclusive=True, exit_on_error=False,
        )  # fmt: skip

    def on_send_progressed(self, message: SendProgressed) -> None:
        """Move the bar and count the files."""
        self.count(message.done, message.total, "sending")

    def on_send_finished(self, message: SendFinished) -> None:
        """The result in one line; the list is free again (Esc closes it)."""
        self.cancel_event = None
        self.finished, self.ok = True, message.ok
        self.query_one("#send-progress").display = False
        nodes = self.query_one("#send-nodes")
        nodes.disabled = False
        nodes.focus()
        self.show(message.line, error=not message.ok)
        self.query_one(Vertical).border_subtitle = "Enter sends again · Esc closes"
