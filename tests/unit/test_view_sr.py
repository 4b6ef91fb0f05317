"""The SR content tree (tuipacs.view.sr) on real reports, checked against dcmdump."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from dockit import ct_image, dcmdump_lines, measurement_report
from helpers import require_binary
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tuipacs.view import sr

ELEMENT = re.compile(r"^\s*\((\w{4}),(\w{4})\) \w\w \[(.*)\]")


def dump_content_values(path: Path) -> list[str]:
    """dcmdump's CodeMeanings and Numeric Values inside the document's Content Sequence, in
    the order dcmdump prints them (a pre-order walk of the content tree)."""
    lines = dcmdump_lines(path, require_binary("dcmdump"))
    start = next(i for i, line in enumerate(lines) if line.startswith("(0040,a730) SQ"))
    found = []
    for line in lines[start:]:
        match = ELEMENT.match(line)
        if match and (match[1], match[2].lower()) in {("0008", "0104"), ("0040", "a30a")}:
            found.append(match[3])
    return found


def tree_values(doc: sr.SrDocument) -> list[str]:
    """The same values from our tree: per node its concept name, coded value, unit and number
    (the order of their tags in an item), then its children."""
    found = []
    for node in doc.nodes():
        found += [v for v in (node.concept, node.code, node.unit, node.number) if v]
    return found


def test_test_sr_tree_matches_dcmdump() -> None:
    path = Path(get_testdata_file("test-SR.dcm"))
    doc = sr.sr_document(dcmread(path))
    assert tree_values(doc) == dump_content_values(path)
    assert doc.title == "Diagnosis" and doc.count == 28 and not doc.limited
    assert doc.completion == "COMPLETE" and doc.verification == "VERIFIED"
    assert doc.observers[0].startswith("Riesmeier, J")
    kinds = {node.value_type for node in doc.nodes()}
    assert {"TEXT", "CODE", "NUM", "SCOORD", "TCOORD", "IMAGE", "COMPOSITE", "WAVEFORM"} <= kinds
    image = next(n for n in doc.nodes() if n.value_type == "IMAGE")
    assert image.references == [
        sr.ImageReference("1.2.840.10008.5.1.4.1.1.2", "1.2.3.4.5.0", (5, 2))
    ]
    assert "CT Image Storage 1.2.3.4.5.0 (frames 5, 2)" in image.text()
    # a by-reference relationship is shown, not followed
    ref = [n for n in doc.nodes() if n.relationship == "INFERRED FROM" and not n.value_type]
    assert [n.value for n in ref] == ["(see item 1.2.2.1)"]
    # the text with line breaks is one clean line
    text = next(n for n in doc.nodes() if n.value.startswith("Sample Text"))
    assert text.value.isprintable()


def test_tid1500_report_made_by_highdicom(tmp_path: Path) -> None:
    ct = ct_image()
    path = tmp_path / "tid1500.dcm"
    measurement_report(ct, length_mm=12.5, area=40.0).save_as(path, enforce_file_format=True)
    result = subprocess.run(
        [require_binary("dciodvfy"), str(path)], capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    assert [line for line in output.splitlines() if line.startswith("Error")] == []
    assert "Comprehensive3DSR" in output
    doc = sr.sr_document(dcmread(path))
    assert tree_values(doc) == dump_content_values(path)
    assert doc.title == "Imaging Measurement Report"
    assert doc.observers == ["Reader, Test"]
    nums = {n.concept: n.value for n in doc.nodes() if n.value_type == "NUM"}
    assert nums == {"Length": "12.5 mm", "Area": "40.0 mm2"}
    scoord = next(n for n in doc.nodes() if n.value_type == "SCOORD")
    assert scoord.graphic_type == "POLYLINE"
    assert scoord.points == (10.0, 20.0, 60.0, 20.0, 60.0, 70.0, 10.0, 20.0)
    target = sr.scoord_image(scoord)
    assert target is not None and target.sop_uid == ct.SOPInstanceUID


def _item(value_type: str = "CONTAINER", text: str = "") -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = value_type
    if text:
        item.TextValue = text
    return item


def test_deep_nesting_is_bounded() -> None:
    """10^5 nested containers (built iteratively): the walk stops at MAX_DEPTH with a note."""
    ds = Dataset()
    ds.ValueType = "CONTAINER"
    parent: Dataset = ds
    for _ in range(100_000):
        child = _item()
        parent.ContentSequence = Sequence([child])
        parent = child
    doc = sr.sr_document(ds)
    assert doc.count == sr.MAX_DEPTH
    assert "deeper than 64" in doc.limited
    depth = max(n.identifier.count(".") for n in doc.nodes() if n.identifier)
    assert depth == sr.MAX_DEPTH


def test_node_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sr, "MAX_NODES", 50)
    ds = Dataset()
    ds.ValueType = "CONTAINER"
    ds.ContentSequence = Sequence([_item("TEXT", f"t{i}") for i in range(500)])
    doc = sr.sr_document(ds)
    assert doc.count == 50 and "first 50" in doc.limited
    assert doc.root.children[-1].note


def test_hostile_text_is_cleaned_and_broken_items_are_one_node() -> None:
    ds = Dataset()
    ds.ValueType = "CONTAINER"
    ds.CompletionFlag = "COMPLETE\x1b[2J"
    bad = _item("NUM")
    bad.MeasuredValueSequence = Sequence([Dataset()])
    bad.MeasuredValueSequence[0].NumericValue = "1e999"
    hostile = _item("TEXT", "A\x1b]52;c;cm0gLXJmIH4K\x07B" + "x" * 5000)
    ds.ContentSequence = Sequence([hostile, bad, _item("PNAME")])
    doc = sr.sr_document(ds)
    texts = [doc.completion] + [n.text() for n in doc.nodes()]
    assert all(t.isprintable() and "\x1b" not in t for t in texts)
    assert len(doc.root.children[0].value) <= sr.VALUE_WIDTH
    assert doc.count == 3
