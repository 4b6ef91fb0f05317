"""``tuipacs serve --http`` with the project's own DICOMweb client and with dicomweb-client:
search at every level, retrieve a study (files byte-equal to the archive's), metadata,
frames (equal to the pixel data), rendered (a PNG), store by STOW-RS (then visible by QIDO
and ``tuipacs ls``), and the STOW-RS answer for conflicts and refusals."""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from helpers import in_ci
from peers import SyntheticArchive, make_ct_study
from webkit import (
    PASSWORD,
    USER,
    WebServe,
    basic,
    cli,
    multipart,
    parts,
    request,
)

from tuipacs.remote import client_for
from tuipacs.remote.dicomweb import DicomWebClient
from tuipacs.remote.web_node import WebNode
from tuipacs.store.archive import Archive

pytestmark = pytest.mark.net


def own_client(web: WebServe, archive: Archive | None = None) -> DicomWebClient:
    """The project's DICOMweb client of the server."""
    node = WebNode("tp", web.url, timeout=15, auth="basic", user=USER, password=PASSWORD)
    remote = client_for(node, None, archive)  # type: ignore[arg-type]
    assert isinstance(remote, DicomWebClient)
    return remote


def library_client(web: WebServe) -> object:
    """dicomweb-client's DICOMwebClient with basic auth."""
    try:
        import requests
        from dicomweb_client.api import DICOMwebClient
    except ImportError:  # the [test] extra installs it
        message = "dicomweb-client is not installed (pip install -e '.[test]')"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)

    session = requests.Session()
    session.auth = (USER, PASSWORD)
    return DICOMwebClient(web.url, session=session)


def archived(web: WebServe, sop_uid: str) -> Path:
    """The server's file of an instance."""
    archive = Archive(web.archive_root)
    try:
        path = archive.instance_path(sop_uid)
    finally:
        archive.close()
    assert path is not None, sop_uid
    return path


def wait_found(web: WebServe, level: str, keys: dict[str, str], count: int) -> list[object]:
    """Search until ``count`` rows match (the inbox indexes within about a second)."""
    deadline = time.monotonic() + 20
    while True:
        rows = own_client(web).find(level, keys=keys)
        if len(rows) >= count or time.monotonic() > deadline:
            return list(rows)
        time.sleep(0.1)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Archive]:
    """An empty archive to retrieve into."""
    archive = Archive.open(tmp_path / "local")
    yield archive
    archive.close()


def test_search_at_every_level(web: WebServe, web_data: SyntheticArchive) -> None:
    remote = own_client(web)
    chest, brain = web_data.study("CT CHEST"), web_data.study("MR BRAIN")
    studies = remote.find("study", keys={"PatientID": "TP001"})
    assert {r.get("StudyInstanceUID") for r in studies} == {chest.uid, brain.uid}
    row = next(r for r in studies if r.get("StudyInstanceUID") == chest.uid)
    assert row.get("PatientName") == "DOE^JOHN"
    assert row.get("NumberOfStudyRelatedInstances") == str(chest.instance_count)
    by_name = remote.find("study", keys={"PatientName": "doe*"})
    assert {r.get("StudyInstanceUID") for r in by_name} == {chest.uid, brain.uid}
    dated = remote.find("study", keys={"StudyDate": "20200101-20201231"})
    assert [r.get("StudyInstanceUID") for r in dated] == [chest.uid]
    mr = remote.find("study", keys={"ModalitiesInStudy": "MR", "PatientID": "TP001"})
    assert [r.get("StudyInstanceUID") for r in mr] == [brain.uid]
    series = remote.find("series", keys={"StudyInstanceUID": chest.uid})
    assert {r.get("SeriesInstanceUID") for r in series} == {s.uid for s in chest.series}
    first = chest.series[0]
    images = remote.find(
        "image", keys={"StudyInstanceUID": chest.uid, "SeriesInstanceUID": first.uid}
    )
    assert sorted(r.get("SOPInstanceUID") for r in images) == sorted(first.instance_uids)
    # top-level /series and /instances, limit and offset, includefield
    auth = basic()
    every = json.loads(request(f"{web.url}/series?Modality=CT", headers=auth).body)
    assert len(every) == 3  # CT CHEST 2, CT ABDOMEN 1
    page = request(f"{web.url}/instances?SeriesInstanceUID={first.uid}&limit=3&offset=2",
                   headers=auth)  # fmt: skip
    rows = json.loads(page.body)
    assert len(rows) == 3 and page.headers["Content-Type"] == "application/dicom+json"
    numbers = [r["00200013"]["Value"][0] for r in rows]
    assert numbers == [3, 4, 5]
    extra = json.loads(
        request(
            f"{web.url}/studies?StudyInstanceUID={chest.uid}&includefield=00100030", headers=auth
        ).body  # fmt: skip
    )
    assert extra[0]["00100030"]["Value"] == ["19700101"]
    none = request(f"{web.url}/studies?PatientID=NOBODY", headers=auth)
    assert none.status == 204 and none.body == b""
    bad = request(f"{web.url}/studies?NoSuchKeyword=1", headers=auth)
    assert bad.status == 400 and b"NoSuchKeyword" in bad.body


def test_retrieve_study_byte_equal(
    web: WebServe, web_data: SyntheticArchive, local: Archive
) -> None:
    chest = web_data.study("CT CHEST")
    result = own_client(web, local).retrieve(chest.uid)
    assert result.ok, result.errors
    assert result.completed == chest.instance_count
    for series in chest.series:
        for uid in series.instance_uids:
            got = local.instance_path(uid)
            assert got is not None
            assert (
                hashlib.sha256(got.read_bytes()).digest()
                == hashlib.sha256(archived(web, uid).read_bytes()).digest()
            )


def test_retrieve_compressed_as_stored_and_406(web: WebServe, extra_files: dict[str, Path]) -> None:
    ds = pydicom.dcmread(extra_files["SC_rgb_jpeg_dcmtk.dcm"])
    url = f"{web.url}/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}" \
          f"/instances/{ds.SOPInstanceUID}"  # fmt: skip
    star = 'multipart/related; type="application/dicom"; transfer-syntax=*'
    got = request(url, headers={**basic(), "Accept": star})
    assert got.status == 200
    [(headers, body)] = parts(got)
    assert body == archived(web, ds.SOPInstanceUID).read_bytes()
    assert "1.2.840.10008.1.2.4.50" in headers["content-type"]
    own = star.replace("*", "1.2.840.10008.1.2.4.50")
    assert request(url, headers={**basic(), "Accept": own}).status == 200
    other = star.replace("*", "1.2.840.10008.1.2.1")
    refused = request(url, headers={**basic(), "Accept": other})
    assert refused.status == 406 and b"1.2.840.10008.1.2.4.50" in refused.body


def test_metadata_frames_rendered_with_dicomweb_client(
    web: WebServe, web_data: SyntheticArchive, extra_files: dict[str, Path]
) -> None:
    client = library_client(web)
    chest = web_data.study("CT CHEST")
    studies = client.search_for_studies(search_filters={"PatientID": "TP001"})  # type: ignore[attr-defined]
    assert chest.uid in {s["0020000D"]["Value"][0] for s in studies}
    meta = client.retrieve_study_metadata(chest.uid)  # type: ignore[attr-defined]
    assert len(meta) == chest.instance_count
    item = meta[0]
    assert "BulkDataURI" in item["7FE00010"] and "Value" not in item["7FE00010"]
    assert item["00100010"]["Value"] == [{"Alphabetic": "DOE^JOHN"}]
    series, sop = item["0020000E"]["Value"][0], item["00080018"]["Value"][0]
    pixels = pydicom.dcmread(archived(web, sop)).PixelData
    bulk = client.retrieve_bulkdata(item["7FE00010"]["BulkDataURI"])  # type: ignore[attr-defined]
    assert bulk == [pixels]
    [frame] = client.retrieve_instance_frames(chest.uid, series, sop, frame_numbers=[1])  # type: ignore[attr-defined]
    assert frame == pydicom.dcmread(archived(web, sop)).PixelData
    # a 10-frame native instance: frames 2 and 7 are their slices of the pixel data
    mr = pydicom.dcmread(extra_files["emri_small.dcm"])
    size = mr.Rows * mr.Columns * 2
    got = client.retrieve_instance_frames(  # type: ignore[attr-defined]
        mr.StudyInstanceUID, mr.SeriesInstanceUID, mr.SOPInstanceUID, frame_numbers=[2, 7]
    )
    assert got == [mr.PixelData[size : 2 * size], mr.PixelData[6 * size : 7 * size]]
    # the JPEG 2000 copy: each frame is its codestream as stored
    j2k = pydicom.dcmread(extra_files["emri_small_jpeg_2k_lossless.dcm"])
    stored = list(pydicom.encaps.generate_frames(j2k.PixelData, number_of_frames=10))
    got = client.retrieve_instance_frames(  # type: ignore[attr-defined]
        j2k.StudyInstanceUID, j2k.SeriesInstanceUID, j2k.SOPInstanceUID, frame_numbers=[3]
    )
    assert got == [stored[2]]
    base = f"{web.url}/studies/{mr.StudyInstanceUID}/series/{mr.SeriesInstanceUID}" \
           f"/instances/{mr.SOPInstanceUID}"  # fmt: skip
    past = request(f"{base}/frames/11", headers=basic())
    assert past.status == 404 and b"10 frame" in past.body
    assert request(f"{base}/frames/0", headers=basic()).status == 400
    png = request(f"{base}/rendered", headers={**basic(), "Accept": "image/png"})
    assert png.status == 200 and png.headers["Content-Type"] == "image/png"
    from PIL import Image

    image = Image.open(io.BytesIO(png.body))
    assert image.format == "PNG" and image.size == (mr.Columns, mr.Rows)
    jpeg = request(f"{base}/frames/4/rendered", headers=basic())
    assert jpeg.status == 200 and jpeg.body[:2] == b"\xff\xd8"


def test_store_via_stow_then_visible(web: WebServe, tmp_path: Path) -> None:
    study_uid, files = make_ct_study(tmp_path / "new", slices=3, size=32)
    result = own_client(web).send(files)
    assert (result.sent, result.failed) == (3, 0)
    assert len(wait_found(web, "image", {"StudyInstanceUID": study_uid}, 3)) == 3
    listed = cli(web.home, "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    assert study_uid in listed.stdout
    # dicomweb-client's store_instances: one more instance of that study
    extra_uid, more = make_ct_study(tmp_path / "more", slices=1, size=32)
    answer = library_client(web).store_instances([pydicom.dcmread(more[0])])  # type: ignore[attr-defined]
    assert len(answer.ReferencedSOPSequence) == 1
    assert "FailedSOPSequence" not in answer
    assert wait_found(web, "study", {"StudyInstanceUID": extra_uid}, 1)


def test_stow_answers_conflicts_refusals_and_bad_parts(web: WebServe, tmp_path: Path) -> None:
    """200 all kept (the same object again counts as kept), 202 some failed (another object
    under an archived SOP Instance UID: 0x0111; not DICOM: 0xC000), 409 none kept (a series
    of another study: 0xC001; an instance not of the URL's study: 0xA900)."""
    study_uid, files = make_ct_study(tmp_path / "s", slices=2, size=16)
    first = files[0].read_bytes()
    body, ctype = multipart([first])
    url = f"{web.url}/studies"
    assert request(url, "POST", {**basic(), "Content-Type": ctype}, body).status == 200
    again = request(url, "POST", {**basic(), "Content-Type": ctype}, body)
    assert again.status == 200 and "00081199" in json.loads(again.body)
    changed = pydicom.dcmread(files[0])
    changed.SeriesDescription = "CHANGED"
    buffer = io.BytesIO()
    changed.save_as(buffer)
    body, ctype = multipart([buffer.getvalue(), b"not dicom at all", files[1].read_bytes()])
    mixed = request(url, "POST", {**basic(), "Content-Type": ctype}, body)
    assert mixed.status == 202, mixed.body
    answer = json.loads(mixed.body)
    reasons = sorted(i["00081197"]["Value"][0] for i in answer["00081198"]["Value"])
    assert reasons == [0x0111, 0xC000]
    kept = [i["00081155"]["Value"][0] for i in answer["00081199"]["Value"]]
    assert kept == [pydicom.dcmread(files[1]).SOPInstanceUID]
    # a new instance claiming the series under another study: refused, quarantined
    moved = pydicom.dcmread(files[0])
    moved.SOPInstanceUID = moved.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.5.6.7.1"
    moved.StudyInstanceUID = "1.2.3.4.5.6.7.2"
    buffer = io.BytesIO()
    moved.save_as(buffer)
    body, ctype = multipart([buffer.getvalue()])
    refused = request(url, "POST", {**basic(), "Content-Type": ctype}, body)
    assert refused.status == 409
    [failed] = json.loads(refused.body)["00081198"]["Value"]
    assert failed["00081197"]["Value"] == [0xC001]
    body, ctype = multipart([files[1].read_bytes()])
    wrong = request(f"{url}/1.2.3.999", "POST", {**basic(), "Content-Type": ctype}, body)
    assert wrong.status == 409
    [failed] = json.loads(wrong.body)["00081198"]["Value"]
    assert failed["00081197"]["Value"] == [0xA900]
    assert cli(web.home, "quarantine", "--json").stdout.count("1.2.3.4.5.6.7.1") >= 1


def test_log_and_audit_hold_no_names_or_ids(web: WebServe) -> None:
    """After searches by name and ID (earlier tests and these): the log and the audit log
    name paths, query keys and UIDs, never the values searched for or found."""
    auth = basic()
    assert request(f"{web.url}/studies?PatientName=M%C3%9CLLER*", headers=auth).status == 200
    assert request(f"{web.url}/studies?PatientID=TP002", headers=auth).status == 200
    audit = (web.archive_root / "audit.jsonl").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in audit.splitlines()]
    http = [line for line in lines if line["event"] == "http"]
    assert any(line["keys"] == ["PatientID"] and line["user"] == USER for line in http)
    assert any(line.get("stored") for line in http)  # STOW-RS lines count what they kept
    for text in (web.log, audit):
        for secret in ("DOE", "JOHN", "TP001", "TP002", "MÜLLER", "M%C3%9CLLER", PASSWORD):
            assert secret not in text
