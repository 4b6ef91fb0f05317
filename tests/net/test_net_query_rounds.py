"""Many queries on one association against a real Orthanc: no response is ever lost.

pynetdicom's reactor could take the pending response of a C-FIND that follows another on
the same association (see tuipacs.dicom.transport.assoc_reactor): about 1 round in 100 came
back empty on loopback, and a retrieve then said the study "lists no instances". Runs on
both transports (scripts/test.sh): the fix is part of the safety layer.
"""

from __future__ import annotations

from peers import OrthancPeer, SyntheticArchive
from pydicom.dataset import Dataset
from pynetdicom.presentation import build_context

from tuipacs.dicom import net
from tuipacs.dicom.nodes import LocalAE, Node
from tuipacs.dicom.scu import STUDY_ROOT_FIND, iter_find

ROUNDS = 200


def test_second_query_on_an_association_is_never_empty(
    orthanc: OrthancPeer, test_data: SyntheticArchive, local_ae: LocalAE
) -> None:
    study = test_data.study("CT CHEST")
    node = Node("orthanc", orthanc.aet, "127.0.0.1", orthanc.dicom_port, timeout=20)
    first = Dataset()
    first.QueryRetrieveLevel = "STUDY"
    first.StudyInstanceUID = study.uid
    second = Dataset()
    second.QueryRetrieveLevel = "SERIES"
    second.StudyInstanceUID = study.uid
    second.SeriesInstanceUID = ""
    empty = 0
    for _ in range(ROUNDS):
        with net.association(node, local_ae, [build_context(STUDY_ROOT_FIND)]) as assoc:
            assert len(list(iter_find(assoc, node, first, STUDY_ROOT_FIND))) == 1
            rows = list(iter_find(assoc, node, second, STUDY_ROOT_FIND))
        empty += len(rows) != len(study.series)
    assert empty == 0, f"{empty} of {ROUNDS} second queries lost their responses"
