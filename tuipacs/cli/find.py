"""``tuipacs find``: C-FIND on a node, taking keys as DCMTK's findscu does.

``-k`` accepts ``Keyword=value``, ``gggg,eeee=value`` (a tag) and a bare ``Keyword`` or
``gggg,eeee`` (a return key: asked for, matching anything). The information model follows
the level (patient level: the patient root) unless ``--root`` says otherwise. The table
shows the level's usual columns plus every return key asked for; dates are checked here (a
``StudyDate=2022`` would match nothing on the node, silently).
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from tuipacs.cli.common import CliError, add_command, client, load_config
from tuipacs.cli.output import count, print_json, say, table, tidy
from tuipacs.cli.shapes import FindRow

if TYPE_CHECKING:
    from tuipacs.cli.common import Subparsers
    from tuipacs.dicom.scu import Root

_TAG_RE = re.compile(r"^\(?([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)?$")
_DATE_RE = re.compile(r"^(\d{8})?(-(\d{8})?)?$")
_TIME_RE = re.compile(r"^(\d{2,6}(\.\d{1,6})?)?(-(\d{2,6}(\.\d{1,6})?)?)?$")

COLUMNS = {
    "patient": ["PatientName", "PatientID", "PatientBirthDate", "PatientSex"],
    "study": [
        "PatientName",
        "PatientID",
        "StudyDate",
        "ModalitiesInStudy",
        "StudyDescription",
        "AccessionNumber",
        "NumberOfStudyRelatedInstances",
        "StudyInstanceUID",
    ],
    "series": [
        "SeriesNumber",
        "Modality",
        "SeriesDescription",
        "NumberOfSeriesRelatedInstances",
        "SeriesInstanceUID",
        "StudyInstanceUID",
    ],
    "image": ["InstanceNumber", "SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID"],
}


def register(sub: Subparsers) -> None:
    """Add ``find``."""
    find = add_command(sub, "find", cmd_find, "C-FIND on a node (keys as findscu takes them)")
    find.add_argument("node", metavar="NODE")
    find.add_argument("--level", choices=("patient", "study", "series", "image"), default="study")
    find.add_argument(
        "--root",
        choices=("study", "patient"),
        help="information model (default: patient for --level patient, else study)",
    )
    find.add_argument(
        "-k",
        "--key",
        action="append",
        default=[],
        metavar="KEY[=VALUE]",
        help="matching key Keyword=Value or gggg,eeee=Value (e.g. PatientName='DOE*', "
        "StudyDate=20240101-20241231); a key without '=' is a return key",
    )
    find.add_argument("--limit", type=int, default=0, help="stop after this many matches")
    find.add_argument("--json", action="store_true")


def _keyword(name: str) -> str:
    """The DICOM keyword of ``name`` (a keyword or ``gggg,eeee``); CliError if unknown."""
    from pydicom.datadict import keyword_for_tag, tag_for_keyword

    match = _TAG_RE.match(name)
    if match:
        tag = int(match.group(1) + match.group(2), 16)
        keyword = keyword_for_tag(tag)
        if not keyword:
            raise CliError(f"-k {name}: not a tag of the DICOM dictionary")
        return str(keyword)
    if tag_for_keyword(name) is None:
        raise CliError(
            f"-k {name}: unknown DICOM keyword (use e.g. PatientName=DOE* or 0010,0010=DOE*)"
        )
    return name


def _check_value(keyword: str, value: str) -> None:
    """Refuse a date or time the node would match against nothing (DA/TM ranges)."""
    from pydicom.datadict import dictionary_VR

    vr = dictionary_VR(keyword)
    if vr == "DA" and not _DATE_RE.match(value):
        raise CliError(
            f"-k {keyword}={value}: a date is YYYYMMDD or a range FROM-TO (either side may "
            f"be left out), e.g. {keyword}=20220101-20221231 for the year 2022"
        )
    if vr == "TM" and not _TIME_RE.match(value):
        raise CliError(f"-k {keyword}={value}: a time is HHMMSS or a range, e.g. 080000-120000")


def parse_keys(pairs: list[str]) -> dict[str, str]:
    """The ``-k`` arguments as {keyword: value} (a return key has the value "")."""
    keys: dict[str, str] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        name = name.strip()
        if not name:
            raise CliError(f"bad -k {pair!r}: use Keyword=Value, e.g. -k PatientName='DOE*'")
        keyword = _keyword(name)
        _check_value(keyword, value)
        keys[keyword] = value
    return keys


#: Attributes whose values are standard UIDs, shown by name in the table.
_NAMED_UIDS = frozenset({"SOPClassUID", "SOPClassesInStudy", "TransferSyntaxUID"})


def _cell(keyword: str, value: str) -> str:
    """A table cell: SOP classes and transfer syntaxes by name (``--json`` keeps UIDs)."""
    return tidy(value) if keyword in _NAMED_UIDS else value


def cmd_find(args: argparse.Namespace) -> int:
    """Query a node (C-FIND)."""
    keys = parse_keys(args.key)
    root: Root = args.root or ("patient" if args.level == "patient" else "study")
    cfg = load_config()
    rows = client(cfg, cfg.node(args.node)).find(
        level=args.level, root=root, keys=keys, limit=args.limit or None
    )
    if args.json:
        print_json([FindRow(args.level, row) for row in rows])
        return 0
    columns = COLUMNS[args.level] + [k for k in keys if k not in COLUMNS[args.level]]
    table([[_cell(c, r.get(c, "")) for c in columns] for r in rows], columns)
    say(count(len(rows), "match", "matches"), err=True)
    return 0
