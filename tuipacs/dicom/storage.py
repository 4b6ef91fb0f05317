"""Storage receive machinery shared by C-GET, the C-MOVE receiver and a Storage SCP.

Received datasets are never decoded: the transport writes each one to a Part-10 spool
file (128-byte preamble, ``DICM``, File Meta with the transfer syntax of the accepted
presentation context, then the dataset bytes exactly as sent) and hands a
:class:`~tuipacs.dicom.transport.StoreRequest` to :meth:`StoreHandler.store`, which hands
the path and a :class:`ReceivedInstance` to a *sink*. The sink may move the file away
(e.g. ``Archive.add_file(path, move=True)``); if it leaves it, the file is deleted once
the handler returns.
"""

from __future__ import annotations

import functools
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.uid import (
    JPEG2000,
    AllTransferSyntaxes,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)
from pynetdicom import evt, sop_class
from pynetdicom.pdu_primitives import SCP_SCU_RoleSelectionNegotiation
from pynetdicom.presentation import (
    AllStoragePresentationContexts,
    PresentationContext,
    build_context,
    build_role,
)

from tuipacs.dicom.errors import ReceiverError
from tuipacs.dicom.net import spool_folder
from tuipacs.dicom.nodes import LocalAE
from tuipacs.dicom.scp_types import ReceivedInstance
from tuipacs.dicom.transport import (
    DEFAULT_MAX_PDU,
    REQUEST_TIMEOUT,
    StoreRequest,
    TunedAE,
    TunedServer,
    copy_context,
    disk_full,
    make_server,
    store_handler,
)

LOG = logging.getLogger(__name__)

#: Status codes our Storage SCP answers.
STORE_SUCCESS = 0x0000
STORE_OUT_OF_RESOURCES = 0xA700
STORE_CANNOT_UNDERSTAND = 0xC000

UNCOMPRESSED = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]
#: Compressed/other syntaxes offered one per context, so the archive can send what it
#: stores without transcoding (a context carries exactly one accepted syntax).
COMPRESSED = [
    JPEGLosslessSV1,
    JPEGLossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
]
#: Presentation contexts an association request may carry (PS3.8: IDs 1..255, odd).
MAX_CONTEXTS = 128

#: Storage SOP classes proposed when a study's classes are unknown (most common first).
COMMON_STORAGE_CLASSES = [
    str(getattr(sop_class, name))
    for name in (
        "CTImageStorage",
        "EnhancedCTImageStorage",
        "MRImageStorage",
        "EnhancedMRImageStorage",
        "ComputedRadiographyImageStorage",
        "DigitalXRayImageStorageForPresentation",
        "DigitalXRayImageStorageForProcessing",
        "DigitalMammographyXRayImageStorageForPresentation",
        "DigitalMammographyXRayImageStorageForProcessing",
        "UltrasoundImageStorage",
        "UltrasoundMultiFrameImageStorage",
        "SecondaryCaptureImageStorage",
        "MultiFrameGrayscaleByteSecondaryCaptureImageStorage",
        "MultiFrameGrayscaleWordSecondaryCaptureImageStorage",
        "MultiFrameTrueColorSecondaryCaptureImageStorage",
        "XRayAngiographicImageStorage",
        "XRayRadiofluoroscopicImageStorage",
        "NuclearMedicineImageStorage",
        "PositronEmissionTomographyImageStorage",
        "EnhancedPETImageStorage",
        "RTImageStorage",
        "RTDoseStorage",
        "RTStructureSetStorage",
        "RTPlanStorage",
        "BasicTextSRStorage",
        "EnhancedSRStorage",
        "ComprehensiveSRStorage",
        "KeyObjectSelectionDocumentStorage",
        "GrayscaleSoftcopyPresentationStateStorage",
        "EncapsulatedPDFStorage",
        "DigitalIntraOralXRayImageStorageForPresentation",
        "VLPhotographicImageStorage",
        "SegmentationStorage",
        "XRay3DAngiographicImageStorage",
        "BreastTomosynthesisImageStorage",
    )
    if hasattr(sop_class, name)
]
#: Every storage SOP class pynetdicom knows.
ALL_STORAGE_CLASSES = [str(cx.abstract_syntax) for cx in AllStoragePresentationContexts]


#: A sink takes a complete Part-10 file (it may move it away) and its description.
Sink = Callable[[Path, ReceivedInstance], None]
#: Optional lookup SOP Instance UID -> (study UID, series UID) known from a query.
UidLookup = Callable[[str], tuple[str | None, str | None] | None]


def read_study_series(path: Path) -> tuple[str | None, str | None]:
    """Study and Series Instance UIDs from a Part-10 file header (stops before pixels)."""
    try:
        ds = dcmread(
            path,
            stop_before_pixels=True,
            specific_tags=["StudyInstanceUID", "SeriesInstanceUID"],
        )
    except Exception:  # noqa: BLE001 - a header we cannot read gives unknown UIDs
        return None, None
    study = ds.get("StudyInstanceUID")
    series = ds.get("SeriesInstanceUID")
    return (str(study) if study else None, str(series) if series else None)


class StoreHandler:
    """Hands each received file to a sink and answers a C-STORE status.

    Call :meth:`store` with a :class:`~tuipacs.dicom.transport.StoreRequest` (the
    transport's store callback; transport.store_handler adapts it to pynetdicom's
    EVT_C_STORE). Thread-safe as long as the sink and callbacks are: C-MOVE
    receivers call it from several association threads at once. `on_stored(instance)`
    runs after the sink succeeded, `on_failed(sop_uid, message)` after it failed, and
    `on_disk_full(folder)` when the reason was a full disk (writing the received file or
    storing it; `folder` is where it was received). A sink error answers 0xA700 (out of
    resources) for OSError or a full disk, else 0xC000.
    """

    def __init__(
        self,
        sink: Sink,
        lookup: UidLookup | None = None,
        on_stored: Callable[[ReceivedInstance], None] | None = None,
        on_failed: Callable[[str, str], None] | None = None,
        on_disk_full: Callable[[Path], None] | None = None,
    ) -> None:
        """Wrap a sink with optional UID lookup and callbacks."""
        self.sink = sink
        self.lookup = lookup
        self.on_stored = on_stored
        self.on_failed = on_failed
        self.on_disk_full = on_disk_full

    def instance(self, request: StoreRequest) -> ReceivedInstance:
        """The ReceivedInstance for a stored request (UIDs from lookup or file header)."""
        known = self.lookup(request.sop_instance_uid) if self.lookup is not None else None
        if not known and request.study_uid and request.series_uid:
            known = (request.study_uid, request.series_uid)
        study, series = known if known else read_study_series(request.path)
        return ReceivedInstance(
            sop_class_uid=request.sop_class_uid,
            sop_instance_uid=request.sop_instance_uid,
            transfer_syntax_uid=request.transfer_syntax_uid,
            study_uid=study,
            series_uid=series,
            size=request.size,
            calling_ae=request.calling_ae,
        )

    def store(self, request: StoreRequest) -> int:
        """Give one complete received file to the sink; return the status to answer.

        A request whose file could not be written (``request.error``) is only reported.
        """
        uid = request.sop_instance_uid
        if request.error is not None:
            message = f"cannot receive {uid}: {request.error.strerror or request.error}"
            return self._failed(request, message, STORE_OUT_OF_RESOURCES, request.error)
        try:
            instance = self.instance(request)
            self.sink(request.path, instance)
        except Exception as exc:  # noqa: BLE001 - the peer gets a failure status instead
            full = isinstance(exc, OSError) or disk_full(exc)
            status = STORE_OUT_OF_RESOURCES if full else STORE_CANNOT_UNDERSTAND
            return self._failed(request, f"cannot store {uid}: {exc}", status, exc)
        if self.on_stored is not None:
            self.on_stored(instance)
        return STORE_SUCCESS

    def _failed(self, request: StoreRequest, message: str, status: int, exc: BaseException) -> int:
        """Log and report a failure; return the status to answer.

        A full disk reported to on_disk_full is only logged at INFO (the caller says it).
        """
        full = disk_full(exc) and self.on_disk_full is not None
        LOG.log(logging.INFO if full else logging.WARNING, "%s", message)
        if self.on_failed is not None:
            self.on_failed(request.sop_instance_uid, message)
        if full and self.on_disk_full is not None:
            self.on_disk_full(request.path.parent)
        return status


def storage_contexts(
    sop_classes: Iterable[str], budget: int = MAX_CONTEXTS - 2
) -> tuple[list[PresentationContext], list[SCP_SCU_RoleSelectionNegotiation]]:
    """Requested contexts and SCP role items to receive these SOP classes over C-GET.

    Each SOP class gets an uncompressed context (Explicit/Implicit VR LE) and, while
    the budget allows, one context per compressed syntax so the archive can send
    files as stored. Classes beyond the budget are dropped (logged).
    """
    classes = list(dict.fromkeys(str(uid) for uid in sop_classes))
    contexts: list[PresentationContext] = []
    roles = []
    for uid in classes:
        if len(contexts) >= budget:
            LOG.warning("too many SOP classes for one association; dropped %s", uid)
            continue
        contexts.append(_scp_context(uid, UNCOMPRESSED))
        roles.append(build_role(uid, scp_role=True))
    per_class = min(len(COMPRESSED), (budget - len(contexts)) // max(len(roles), 1))
    for uid in classes[: len(roles)]:
        contexts.extend(_scp_context(uid, [ts]) for ts in COMPRESSED[:per_class])
    return contexts, roles


def _scp_context(uid: str, syntaxes: Sequence[str]) -> PresentationContext:
    """A requested context for SOP class uid in which we take the SCP role."""
    context = build_context(uid, list(syntaxes))
    context.scu_role = False
    context.scp_role = True
    return context


def acceptor_storage_contexts() -> list[PresentationContext]:
    """Supported contexts for a Storage SCP: every storage SOP class, every syntax.

    Built once per process (~40 ms); each call returns fresh copies (the caller may
    change them).
    """
    return [copy_context(context) for context in _acceptor_storage_contexts()]


@functools.cache
def _acceptor_storage_contexts() -> tuple[PresentationContext, ...]:
    """The contexts of acceptor_storage_contexts(), built once."""
    syntaxes: list[Any] = list(dict.fromkeys([*UNCOMPRESSED, *COMPRESSED, *AllTransferSyntaxes]))
    return tuple(build_context(uid, syntaxes) for uid in ALL_STORAGE_CLASSES)


def _wake(address: tuple[Any, ...]) -> None:
    """Connect to a listening server so its select() returns at once (faster shutdown)."""
    host = str(address[0])
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    with suppress(OSError), socket.create_connection((host, int(address[1])), timeout=0.5):
        pass


class StorageServer:
    """A Storage SCP (used as our C-MOVE receiver) on our transport.

    Each received file goes to ``handler.store``, from the fast path or from pynetdicom's
    own C-STORE receive (stock transport). Temporary files live in a private spool folder
    removed by stop().
    """

    def __init__(
        self,
        local: LocalAE,
        handler: StoreHandler,
        extra_contexts: Sequence[PresentationContext] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """Describe the server; start() binds local.bind_host:local.port (TLS only if an
        ssl_context is given)."""
        self.local = local
        self.handler = handler
        self.extra_contexts = list(extra_contexts)
        self.ssl_context = ssl_context
        self.spool: Path | None = None
        self._server: TunedServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with local.port 0)."""
        if self._server is None:
            return self.local.port
        return int(self._server.server_address[1])

    def start(self) -> StorageServer:
        """Bind and serve in a background thread; ReceiverError if the port is taken."""
        import shutil

        self.spool = spool_folder(self.local, prefix="tuipacs-scp-")
        ae = TunedAE(self.local.ae_title, self.spool, store=self.handler.store)
        ae.maximum_pdu_size = DEFAULT_MAX_PDU
        ae.network_timeout = 120
        ae.request_timeout = REQUEST_TIMEOUT
        contexts = acceptor_storage_contexts() + self.extra_contexts
        on_store = store_handler(lambda request: self.handler.store(request))
        handlers = [(evt.EVT_C_STORE, on_store)]
        try:
            server = make_server(
                ae,
                (self.local.bind_host, self.local.port),
                contexts,
                handlers,
                ssl_context=self.ssl_context,
            )
        except OSError as exc:
            shutil.rmtree(self.spool, ignore_errors=True)
            raise ReceiverError(
                f"cannot listen on {self.local.bind_host}:{self.local.port} for C-MOVE "
                f"({exc.strerror or exc}): choose another local port or use C-GET"
            ) from None
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = "tuipacs-storage-scp"
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, abort open associations, remove the spool folder."""
        import shutil

        server, self._server = self._server, None
        if server is not None:
            for assoc in server.active_associations:
                assoc.abort()
            address = server.server_address
            closing = threading.Thread(target=server.shutdown, name="tuipacs-scp-stop")
            closing.start()
            _wake(address)  # serve_forever() would notice the shutdown within poll_interval
            closing.join()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.spool is not None:
            shutil.rmtree(self.spool, ignore_errors=True)
            self.spool = None

    def __enter__(self) -> StorageServer:
        """Start on entry."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on exit."""
        self.stop()
