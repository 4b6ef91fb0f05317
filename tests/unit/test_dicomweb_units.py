"""DICOMweb without a server: DICOM JSON -> rows (seeded fuzz of shapes), the streaming
multipart reader (every chunking, cut short, bad sizes), and DICOMweb nodes in config."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from tuipacs import config, config_edit
from tuipacs.dicom.errors import NodeError
from tuipacs.dicomweb.multipart import MultipartError, MultipartReader, boundary_of
from tuipacs.dicomweb.qido import MAX_TEXT, ShapeError, rows_from_json, search_params, search_path
from tuipacs.remote import QueryInvalid
from tuipacs.remote.web_node import WebNode

STUDY = {
    "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
    "00100010": {"vr": "PN", "Value": [{"Alphabetic": "DOE^JANE", "Ideographic": "X"}]},
    "00201208": {"vr": "IS", "Value": [12]},
    "00080061": {"vr": "CS", "Value": ["CT", "OT"]},
    "00081190": {"vr": "UR", "Value": ["http://x/studies/1.2.3"]},
    "00080090": {"vr": "PN"},
    "00081032": {"vr": "SQ", "Value": [{}]},
    "00091001": {"vr": "LO", "Value": ["private"]},
}


def test_study_row() -> None:
    (row,) = rows_from_json([STUDY], "study", {"PatientID": ""}, "here")
    assert row["StudyInstanceUID"] == "1.2.3"
    assert row["PatientName"] == "DOE^JANE=X"
    assert row["NumberOfStudyRelatedInstances"] == "12"
    assert row["ModalitiesInStudy"] == "CT\\OT"
    assert row["ReferringPhysicianName"] == "" and row["PatientID"] == ""
    assert "RetrieveURL" not in row and "StudyDescription" in row
    assert rows_from_json(None, "study", {}, "here") == []


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value, biased to near-DICOM shapes."""
    choice = rng.randrange(9 if depth < 3 else 6)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([0, -1, 10**30, 2**63, 1.5, float("1e308")])
    if choice == 3:
        return "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.choice([0, 3, 5000])))
    if choice == 4:
        return rng.choice(["CT", "PN", "UI", "SQ", "xx", ""])
    if choice == 5:
        return {"Alphabetic": rng.choice(["A^B", 3, None])}
    if choice == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["vr", "Value", "00100010", "0020000D", "zz", "00201208"]
    return {rng.choice(keys): _random_value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _random_answer(rng: random.Random) -> Any:
    """A search answer: mostly a list of element maps with random parts."""
    if rng.random() < 0.1:
        return _random_value(rng)
    rows = []
    for _ in range(rng.randrange(4)):
        item: dict[str, Any] = {}
        for tag in rng.sample(["0020000D", "00100010", "00201208", "00080061", "X"], 3):
            element: Any = {"vr": rng.choice(["UI", "PN", "IS", "CS", "SQ", 7])}
            if rng.random() < 0.8:
                element["Value"] = _random_value(rng) if rng.random() < 0.3 else [
                    _random_value(rng) for _ in range(rng.randrange(3))
                ]
            item[tag] = element if rng.random() < 0.9 else _random_value(rng)
        rows.append(item if rng.random() < 0.95 else _random_value(rng))
    return rows


def test_fuzzed_shapes_are_rows_or_one_shape_error() -> None:
    """Seeded: every answer gives rows of bounded text or a one-line ShapeError."""
    rng = random.Random(1802)
    outcomes = {"rows": 0, "error": 0}
    for _ in range(3000):
        answer = _random_answer(rng)
        try:
            rows = rows_from_json(answer, "study", {}, "http://h/dicom-web")
        except ShapeError as exc:
            assert "\n" not in str(exc) and str(exc).startswith("http://h/dicom-web")
            outcomes["error"] += 1
            continue
        for row in rows:
            assert all(isinstance(v, str) and len(v) <= MAX_TEXT for v in row.values())
        outcomes["rows"] += 1
    assert outcomes["rows"] > 100 and outcomes["error"] > 100


def test_search_path_and_params() -> None:
    assert search_path("series", {"StudyInstanceUID": "1.2"}) == "/studies/1.2/series"
    assert search_path("series", {"StudyInstanceUID": "1.2*"}) == "/series"
    path = search_path("image", {"StudyInstanceUID": "1.2", "SeriesInstanceUID": "1.3"})
    assert path == "/studies/1.2/series/1.3/instances"
    params = search_params("study", "/studies", {"PatientName": "DOE*", "PatientID": ""}, 5)
    assert ("PatientName", "DOE*") in params and ("includefield", "PatientID") in params
    assert ("limit", "5") in params and ("includefield", "StudyInstanceUID") in params
    with pytest.raises(QueryInvalid, match="patient-level"):
        search_path("patient", {})
    with pytest.raises(QueryInvalid, match="control characters"):
        search_params("study", "/studies", {"PatientName": "a\r\nX-Evil: 1"}, None)


class _Sink:
    """A part sink in memory: complete parts and how many were dropped."""

    def __init__(self) -> None:
        self.done_parts: list[bytes] = []
        self.dropped = 0

    def open(self, headers: dict[str, str]) -> BinaryIO:
        return io.BytesIO()

    def done(self, handle: BinaryIO, size: int) -> None:
        assert isinstance(handle, io.BytesIO) and len(handle.getvalue()) == size
        self.done_parts.append(handle.getvalue())

    def drop(self, handle: BinaryIO) -> None:
        self.dropped += 1


def _body(parts: list[bytes], boundary: str = "B-1", lengths: bool = False) -> bytes:
    out = b"preamble\r\n"
    for part in parts:
        extra = f"Content-Length: {len(part)}\r\n" if lengths else ""
        out += f"--{boundary}\r\nContent-Type: application/dicom\r\n{extra}\r\n".encode()
        out += part + b"\r\n"
    return out + f"--{boundary}--\r\nepilogue".encode()


def test_multipart_every_chunking() -> None:
    rng = random.Random(7)
    parts = [bytes(rng.randrange(256) for _ in range(n)) for n in (0, 1, 300, 2000)]
    parts.append(b"\r\n--B-\r\n--B-\n--B-1")  # near-boundaries inside a part
    body = _body(parts, lengths=True)
    for size in (1, 2, 3, 7, 64, 1000, len(body)):
        sink = _Sink()
        reader = MultipartReader("B-1", sink, 10_000)
        for at in range(0, len(body), size):
            reader.feed(body[at : at + size])
        assert reader.finish() == len(parts)
        assert sink.done_parts == parts and sink.dropped == 0


@pytest.mark.parametrize(
    ("body", "max_part", "expected"),
    [
        (_body([b"abc"])[:-20], 100, "cut short"),
        (_body([b"abcdef"]), 3, "larger than allowed"),
        (_body([b"abc"]).replace(b"Content-Type", b"Content-Length: 9\r\nX"), 100, "says 9"),
        (b"x" * 70_000, 100, "no multipart boundary"),
        (b"--B-1\r\n" + b"H" * 20_000, 100, "headers are larger"),
        (b"--B-1\r\nno colon here\r\n\r\nbody", 100, "malformed header"),
        (b"--B-1\r\nContent-Length: 99999999999999999\r\n\r\n", 100, "Content-Length"),
    ],
)
def test_multipart_refused(body: bytes, max_part: int, expected: str) -> None:
    sink = _Sink()
    reader = MultipartReader("B-1", sink, max_part)
    with pytest.raises(MultipartError, match=expected):
        reader.feed(body)
        reader.finish()
    reader.abort()
    assert sink.done_parts == [] or expected == "cut short"


def test_boundary_of() -> None:
    assert boundary_of('multipart/related; type="application/dicom"; boundary="a b"') == "a b"
    assert boundary_of("multipart/related; boundary=xyz;type=x") == "xyz"
    for bad in ("multipart/related", "text/html; boundary=x", "multipart/related; boundary="):
        with pytest.raises(MultipartError):
            boundary_of(bad)
    with pytest.raises(MultipartError):
        boundary_of("multipart/related; boundary=" + "x" * 71)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://h/dicom-web", "http:// or https://"),
        ("https://user:pw@h/dicom-web", "may not hold a user or password"),
        ("https://h /dicom-web", "spaces"),
        ("https:///dicom-web", "no host"),
        ("https://h/dicom-web?x=1", "without '?'"),
        ("https://h:99999/x", "not a valid URL"),
    ],
)
def test_bad_urls(url: str, expected: str) -> None:
    with pytest.raises(NodeError, match=expected):
        WebNode("n", url)


def test_config_and_node_add(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    config_edit.add_node(
        "cloud", {"url": "https://pacs.example/dicom-web", "auth": "bearer", "token_env": "T"},
        path,
    )  # fmt: skip
    cfg = config.load(path)
    node = cfg.node("cloud")
    assert isinstance(node, WebNode) and node.auth == "bearer" and node.token_env == "T"
    assert node.to_mapping() == {
        "url": "https://pacs.example/dicom-web", "auth": "bearer", "token_env": "T",
    }  # fmt: skip
    secret = WebNode("s", "http://h/x", auth="basic", user="u", password="pw")
    assert "pw" not in str(secret.to_mapping())
    text = '[nodes.a]\nurl = "https://h/dicom-web"\nauth = "basic"\n'
    with pytest.raises(config.ConfigError, match=r":3: key 'nodes.a.auth'.*needs user"):
        config.parse_text(path, text)
    with pytest.raises(config.ConfigError, match="did you mean 'token_env'"):
        config.parse_text(path, '[nodes.a]\nurl = "https://h/x"\ntoken_evn = "T"\n')
    with pytest.raises(config.ConfigError, match="may not hold a user"):
        config_edit.parse_address("http://u:p@h/dicom-web", "x")
    ca = WebNode("c", "https://h/x", ca="ca.pem")
    cfg.nodes["c"] = ca.to_mapping()
    resolved = cfg.node("c")
    assert isinstance(resolved, WebNode) and resolved.ca == str(tmp_path / "ca.pem")
