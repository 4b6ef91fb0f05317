"""One `tuipacs:` error line for every failure, `--json` failures as {"ok": false, "error"},
`render` writes the format its suffix names, counts agree with their nouns, standard UIDs
are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from peers import make_ct_study
from PIL import Image

from tuipacs.cli import main
from tuipacs.cli.output import count, tidy


@pytest.fixture(scope="module")
def ct_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, files = make_ct_study(tmp_path_factory.mktemp("ct"), 1, size=64)
    return files[0]


@pytest.mark.parametrize(("suffix", "fmt"), [(".png", "PNG"), (".jpg", "JPEG"), (".TIFF", "TIFF")])
def test_render_writes_the_format_its_suffix_names(
    tuipacs_home: Path, tmp_path: Path, ct_file: Path, suffix: str, fmt: str
) -> None:
    out = tmp_path / f"frame{suffix}"
    assert main(["render", str(ct_file), "-o", str(out)]) == 0
    with Image.open(out) as image:
        assert image.format == fmt and image.size == (64, 64)


def test_render_refuses_a_suffix_it_cannot_write(
    tuipacs_home: Path, tmp_path: Path, ct_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "frame.bmp"
    assert main(["render", str(ct_file), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tuipacs: error: cannot tell the image format") and ".jpg" in err
    assert not out.exists()


def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["find"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("tuipacs: error: ")
    assert "tuipacs find --help" in err


def test_json_failure_is_a_json_object(
    tuipacs_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ls", "--json", "--date", "yesterday"]) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["ok"] is False and "bad date" in data["error"]
    assert captured.err.startswith("tuipacs: error: bad date")


def test_counts_agree_with_their_nouns() -> None:
    assert [count(n, "study") for n in (0, 1, 2)] == ["0 studies", "1 study", "2 studies"]
    assert count(1, "match", "matches") == "1 match"
    assert count(3, "image") == "3 images" and count(2, "key") == "2 keys"


def test_standard_uids_are_named_and_pydicoms_advice_dropped() -> None:
    text = tidy("no context for 1.2.840.10008.1.2.4.50 (CT 1.2.840.10008.5.1.4.1.1.2)")
    assert text == "no context for JPEG Baseline (Process 1) (CT CT Image Storage)"
    assert tidy("x: 1.2.840.10008.9.9.9.9") == "x: 1.2.840.10008.9.9.9.9"  # unknown: kept
    message = tidy(
        "a.txt: not a DICOM Part-10 file (File is missing DICOM File Meta Information header "
        "or the 'DICM' prefix is missing from the header. Use force=True to force reading.)"
    )
    assert message == "a.txt: not a DICOM Part-10 file"


def test_import_summary_says_what_already_present_means(
    tuipacs_home: Path, ct_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(ct_file)]) == 0
    assert "(1 study," in capsys.readouterr().out
    assert main(["import", str(ct_file)]) == 0
    assert "1 already present (same SOP Instance UID)" in capsys.readouterr().out


def test_a_bad_demo_size_is_one_line(
    tuipacs_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--ct-slices", "3000"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tuipacs: error: ct_slices must be between 1 and 1000")
    assert "unexpected" not in err
