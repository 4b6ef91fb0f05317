"""The client seam: what the command line and the TUI ask of a remote archive.

An implementation speaks one protocol (DIMSE today: :class:`tuipacs.remote.dimse.DimseClient`)
and is bound to one node and to the local archive when it is made
(:func:`tuipacs.remote.client_for`), so that callers only name studies, series and files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from tuipacs.remote.results import (
    CheckStep,
    EchoResult,
    Level,
    QueryRow,
    RetrieveProgress,
    RetrieveResult,
    Root,
    SendResult,
)

ProgressCallback = Callable[[RetrieveProgress], None]
"""Called (from worker threads, never twice at once) after each change of a retrieve."""
SendProgressCallback = Callable[[int, int], None]
"""Called with (files done, files in all) after each file sent."""


class PacsClient(Protocol):
    """A remote archive: verify, query, retrieve into the local archive, send.

    Errors are :class:`~tuipacs.remote.results.RemoteError` with one line that says what to
    do: :class:`~tuipacs.remote.results.QueryInvalid` before anything is sent,
    :class:`~tuipacs.remote.results.RemoteNetError` when the exchange with the archive fails.
    A retrieve never raises for what happens on the way: see its result's ``errors``.
    """

    @property
    def name(self) -> str:
        """The node's name, for messages."""
        ...

    @property
    def address(self) -> str:
        """Where the node is, for messages."""
        ...

    def echo(self) -> EchoResult:
        """Check that the node answers."""
        ...

    def find(
        self,
        level: Level = "study",
        root: Root = "study",
        keys: Mapping[str, str] | None = None,
        limit: int | None = None,
    ) -> list[QueryRow]:
        """The matches of a query at ``level``.

        ``keys`` are DICOM keywords with matching values (``PatientName="DOE*"``,
        ``StudyDate="20240101-20241231"``; empty: only returned); the usual return keys of
        the level are added. ``limit`` stops after that many matches.
        """
        ...

    def retrieve(
        self,
        study_uid: str,
        series_uids: Sequence[str] | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> RetrieveResult:
        """Retrieve a study (or only ``series_uids``) into the local archive.

        Instances already there are skipped. Setting ``cancel`` stops the transfer soon.
        """
        ...

    def send(
        self,
        paths: Sequence[Path],
        *,
        progress: SendProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> SendResult:
        """Send DICOM files as stored; RemoteNetError when nothing could be sent (files that
        fail one by one are counted in the result)."""
        ...

    def check(self) -> list[CheckStep]:
        """Diagnose the node step by step (echo, find, a one-instance retrieve that keeps
        nothing), stopping at the first step that fails."""
        ...
