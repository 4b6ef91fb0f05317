"""Status codes to text and advice."""

from __future__ import annotations

from tuipacs.dicom.status import describe, status_text


def test_categories() -> None:
    assert describe(0x0000).category == "success"
    assert describe(0xFF00).category == "pending"
    assert describe(0xFE00).category == "cancel"
    assert describe(0xB000).category == "warning"
    assert describe(0xA801).category == "failure"
    assert describe(0xC123).category == "failure"


def test_text_and_advice() -> None:
    assert "list of modalities" in status_text(0xA801)
    assert "0xA801" in status_text(0xA801)
    assert "retry later" in describe(0xA7FF).advice
    assert "out of resources" in status_text(0xA700)
    assert describe(0xC001).text == "unable to process"
    assert describe(0x0000).ok and not describe(0xA900).ok
