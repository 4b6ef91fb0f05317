"""TID 1500 measurement reports drawn on the images they reference (pure: no Textual, no disk).

A Structured Report that follows TID 1500 (Measurement Report) holds measurement groups
(CONTAINER "Measurement Group", DCM 125007): each has a tracking identifier, numeric
measurements (NUM: concept, value, unit) and, for a planar ROI (TID 1410), its image region:
a SCOORD (POINT, MULTIPOINT, POLYLINE, a POLYGON as a closed polyline, CIRCLE, ELLIPSE) with
a SELECTED FROM IMAGE child naming the image (and frame) it is drawn on. Any SR content item
of value type SCOORD with such a reference is drawn, in a group or not; a SCOORD under a NUM
(INFERRED FROM) is labelled with that measurement.

:func:`read_report` reads the regions and the groups' measurements; :func:`add_sr` turns them
into the graphics and labels GSPS uses (:mod:`tuipacs.view.annotations`), drawn in
:data:`SR_COLOUR` by :mod:`tuipacs.view.annotation_draw`: the region's outline, and next to
it the tracking identifier and one ``<concept> <value> <unit>`` line per measurement.

Hostile input is normal: the walk is iterative, at most :data:`MAX_DEPTH` levels and
:data:`MAX_ITEMS` content items, at most :data:`MAX_POINTS` points per report (counted in the
raw element before any value is converted); coordinates must be finite numbers; every text
is cleaned and clipped to :data:`MAX_LABEL` cells. What is left out is counted, and each
reason gives one line in :attr:`StudyAnnotations.problems`; nothing raises.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tuipacs.safe_text import clean
from tuipacs.view import format as fmt
from tuipacs.view.annotations import (
    ALL_FRAMES,
    Graphic,
    ImageKey,
    Label,
    SourcePoint,
    StudyAnnotations,
    graphic_shape,
    items,
    numbers,
    text_of,
    value_count,
)

ENHANCED_SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.22"
COMPREHENSIVE_SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.33"
COMPREHENSIVE_3D_SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.34"
EXTENSIBLE_SR_CLASS = "1.2.840.10008.5.1.4.1.1.88.35"
SR_CLASSES = (
    ENHANCED_SR_CLASS,
    COMPREHENSIVE_SR_CLASS,
    COMPREHENSIVE_3D_SR_CLASS,
    EXTENSIBLE_SR_CLASS,
)
"""SR classes whose image regions are drawn (those that can hold a SCOORD)."""

SR_COLOUR = (96, 255, 128)
"""Green: SR measurement regions and their labels."""
MAX_DEPTH = 32
"""Content nested deeper is not read (TID 1500 needs 6 levels)."""
MAX_ITEMS = 20_000
"""Content items read from one report (a report of 1000 planar regions has about 7 000; reading
20 000 takes 1 to 3 s on a 2-core machine)."""
MAX_POINTS = 200_000
"""Points read from one report, all regions together."""
MAX_LABEL = 40
"""Cells of one label line."""
MAX_LINES = 8
"""Label lines of one group (the last says how many more there are)."""
MAX_CHILDREN = 16
"""Children of a SCOORD searched for its image reference."""

MEASUREMENT_GROUP = ("DCM", "125007")
TRACKING_IDENTIFIER = ("DCM", "112039")
UNITS = {"[hnsf'U]": "HU", "1": "", "mm2": "mm²", "mm3": "mm³", "cm2": "cm²", "cm3": "cm³"}
"""UCUM codes shown otherwise after a number."""

NO_IMAGE = "no image"
MALFORMED = "malformed"
VOLUME = "3d"
BAD_NUMBER = "bad number"
TOO_DEEP = "deep"
TOO_MANY_ITEMS = "items"
TOO_MANY_POINTS = "points"


@dataclass(frozen=True)
class Measurement:
    """A numeric measurement: concept name, value and unit (its UCUM code)."""

    concept: str
    value: float
    unit: str

    def text(self) -> str:
        """``Area 12.5 mm²``: cleaned, clipped to :data:`MAX_LABEL` cells."""
        unit = UNITS.get(self.unit, self.unit)
        return fmt.clip(clean(f"{self.concept} {self.value:.6g} {unit}".strip()), MAX_LABEL)


@dataclass
class Group:
    """A measurement group: its tracking identifier and measurements."""

    tracking: str = ""
    measurements: list[Measurement] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The label lines: the tracking identifier, then the measurements (bounded)."""
        lines = [self.tracking] if self.tracking else []
        lines += [m.text() for m in self.measurements]
        if len(lines) > MAX_LINES:
            lines = lines[: MAX_LINES - 1] + [f"(+{len(lines) - MAX_LINES + 1} more)"]
        return lines


@dataclass(frozen=True)
class Region:
    """An image region: its graphic type and points in DICOM pixel coordinates (column,
    row; the top left corner of the image is 0, 0), the images it is drawn on, and the group
    (index into :attr:`Report.groups`, -1: none) or measurement it belongs to."""

    kind: str
    points: tuple[SourcePoint, ...]
    images: tuple[ImageKey, ...]
    group: int = -1
    measurement: Measurement | None = None


@dataclass
class Report:
    """What a report draws: its regions and groups, and what was left out (by reason)."""

    regions: list[Region] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    left_out: Counter[str] = field(default_factory=Counter)


# -- reading ----------------------------------------------------------------------------------


def _get(dataset: Any, keyword: str) -> Any:
    """Element ``keyword``'s value, None when absent or unreadable."""
    try:
        return dataset.get(keyword)
    except Exception:  # a malformed element: as if absent
        return None


def _concept(item: Any) -> tuple[str, str, str]:
    """(scheme, code value, meaning) of an item's concept name ('' when absent)."""
    codes = items(item, "ConceptNameCodeSequence", 1)
    if not codes:
        return "", "", ""
    code = codes[0]
    scheme = text_of(code, "CodingSchemeDesignator").upper()
    return scheme, text_of(code, "CodeValue"), text_of(code, "CodeMeaning")


def _measurement(item: Any, meaning: str, report: Report) -> Measurement | None:
    """A NUM item's measurement; None when it has no value (a malformed one is counted)."""
    measured = items(item, "MeasuredValueSequence", 1)
    if not measured:
        return None  # no value (a qualifier says why): nothing to draw
    value = numbers(_get(measured[0], "NumericValue"), 1)
    if not value:
        report.left_out[BAD_NUMBER] += 1
        return None
    units = items(measured[0], "MeasurementUnitsCodeSequence", 1)
    unit = ""
    if units:
        scheme = text_of(units[0], "CodingSchemeDesignator").upper()
        code = text_of(units[0], "CodeValue")
        unit = code if scheme == "UCUM" or not text_of(units[0], "CodeMeaning") else ""
        unit = unit or text_of(units[0], "CodeMeaning")
    return Measurement(meaning, value[0], unit[:MAX_LABEL])


def _images(item: Any) -> tuple[ImageKey, ...]:
    """The images a SCOORD is selected from (its SELECTED FROM IMAGE children)."""
    keys: list[ImageKey] = []
    for child in items(item, "ContentSequence", MAX_CHILDREN):
        if text_of(child, "ValueType").upper() != "IMAGE":
            continue
        if text_of(child, "RelationshipType").upper() != "SELECTED FROM":
            continue
        for ref in items(child, "ReferencedSOPSequence", 1):
            uid = text_of(ref, "ReferencedSOPInstanceUID")
            if not uid:
                continue
            frames = numbers(_get(ref, "ReferencedFrameNumber"), MAX_CHILDREN) or []
            chosen = [(uid, int(f) - 1) for f in frames if f >= 1]
            keys.extend(chosen or [(uid, ALL_FRAMES)])
    return tuple(keys)


def _region(
    item: Any, owner: tuple[int, Measurement | None], report: Report, budget: list[int]
) -> None:
    """A SCOORD item's region, kept in ``report`` (or counted as left out)."""
    if value_count(item, "GraphicData") > 2 * max(0, budget[0]):
        budget[0] = -1
        report.left_out[TOO_MANY_POINTS] += 1
        return
    data = numbers(_get(item, "GraphicData"), 2 * max(0, budget[0]))
    kind = text_of(item, "GraphicType").upper()
    if not data or len(data) % 2 or not kind:
        report.left_out[MALFORMED] += 1
        return
    images = _images(item)
    if not images:
        report.left_out[NO_IMAGE] += 1
        return
    budget[0] -= len(data) // 2
    points = tuple((data[i], data[i + 1]) for i in range(0, len(data), 2))
    report.regions.append(Region(kind, points, images, owner[0], owner[1]))


def _children(item: Any, room: int, report: Report) -> list[Any]:
    """The first ``room`` items of ``item``'s Content Sequence (more are counted as cut)."""
    children = items(item, "ContentSequence", room + 1)
    if len(children) > room:
        report.left_out[TOO_MANY_ITEMS] += 1
        return children[:room]
    return children


def read_report(ds: Any) -> Report:
    """The image regions and measurement groups of SR ``ds`` (bounded; never raises)."""
    report = Report()
    budget = [MAX_POINTS]
    # the walk: (item, depth, group index, measurement it is under); at most MAX_ITEMS are
    # ever put on the stack
    top = _children(ds, MAX_ITEMS, report)
    stack: list[tuple[Any, int, int, Measurement | None]] = [
        (child, 1, -1, None) for child in reversed(top)
    ]
    taken = len(top)
    while stack:
        item, depth, group, measurement = stack.pop()
        try:
            value_type = text_of(item, "ValueType").upper()
            named = value_type in ("CONTAINER", "TEXT", "NUM")  # the others' names unused
            scheme, code, meaning = _concept(item) if named else ("", "", "")
            if value_type in ("SCOORD", "SCOORD3D"):
                if value_type == "SCOORD3D":
                    report.left_out[VOLUME] += 1
                else:
                    _region(item, (group, measurement), report, budget)
                continue  # its children are its image references, read with it
            if value_type == "CONTAINER" and (scheme, code) == MEASUREMENT_GROUP:
                report.groups.append(Group())
                group = len(report.groups) - 1
            elif value_type == "TEXT" and (scheme, code) == TRACKING_IDENTIFIER and group >= 0:
                report.groups[group].tracking = fmt.clip(text_of(item, "TextValue"), MAX_LABEL)
            elif value_type == "NUM":
                found = _measurement(item, meaning, report)
                if found is not None:
                    measurement = found
                    if group >= 0:
                        report.groups[group].measurements.append(found)
            if depth >= MAX_DEPTH:
                if items(item, "ContentSequence", 1):
                    report.left_out[TOO_DEEP] += 1
                continue
            children = _children(item, MAX_ITEMS - taken, report)
        except Exception:  # one broken item: left out, the others still read
            report.left_out[MALFORMED] += 1
            continue
        taken += len(children)
        stack.extend((child, depth + 1, group, measurement) for child in reversed(children))
    return report


# -- drawing lists ----------------------------------------------------------------------------


def _outlines(region: Region) -> list[Graphic] | None:
    """The region as graphics in source coordinates (pixel centres at whole numbers); None
    when its points do not make its graphic type."""
    points = [(x - 0.5, y - 0.5) for x, y in region.points]
    if region.kind == "MULTIPOINT":
        shapes = [graphic_shape("POINT", [point]) for point in points]
    elif region.kind == "POLYGON":  # closed, whether or not the first point is repeated
        repeated = len(points) > 3 and points[0] == points[-1]
        shapes = [(points[:-1] if repeated else points, True)] if len(points) > 2 else [None]
    else:
        shapes = [graphic_shape(region.kind, points)]
    graphics = [Graphic(tuple(s[0]), s[1], SR_COLOUR) for s in shapes if s is not None]
    return graphics if graphics and len(graphics) == len(shapes) else None


def _label_anchor(graphics: list[Graphic]) -> SourcePoint:
    """Next to the region: right of its bounding box, level with its top."""
    xs = [x for graphic in graphics for x, _y in graphic.points]
    ys = [y for graphic in graphics for _x, y in graphic.points]
    return max(xs) + 2.0, min(ys)


def _problems(left_out: Counter[str]) -> list[str]:
    """One line for each reason something was left out."""
    lines: list[str] = []
    count = left_out.get
    if count(NO_IMAGE):
        lines.append(
            f"a measurement report has {count(NO_IMAGE)} image region(s) that name no "
            "image: left out"
        )
    if count(MALFORMED):
        lines.append(
            f"a measurement report has {count(MALFORMED)} malformed region(s) or "
            "item(s) (coordinates not finite numbers, wrong type): left out"
        )
    if count(VOLUME):
        lines.append(
            f"a measurement report has {count(VOLUME)} 3D region(s) (SCOORD3D): "
            "not drawn (open the report's series to read them)"
        )
    if count(BAD_NUMBER):
        lines.append(
            f"a measurement report has {count(BAD_NUMBER)} measurement(s) whose value "
            "is not a number: left out"
        )
    if count(TOO_DEEP):
        lines.append(
            f"a measurement report nests content deeper than {MAX_DEPTH} levels: "
            "that content is left out"
        )
    if count(TOO_MANY_ITEMS):
        lines.append(
            f"a measurement report has over {MAX_ITEMS} content items: the rest are left out"
        )
    if count(TOO_MANY_POINTS):
        lines.append(f"a measurement report has over {MAX_POINTS} points: the rest are left out")
    return lines


def add_sr(study: StudyAnnotations, ds: Any) -> None:
    """Add the image regions of SR ``ds`` to ``study``: outlines, and next to the first
    region of each group on an image its label lines (nothing for an SR without regions)."""
    report = read_report(ds)
    labelled: set[tuple[int, ImageKey]] = set()
    drawn = 0
    for region in report.regions:
        graphics = _outlines(region)
        if graphics is None:
            report.left_out[MALFORMED] += 1
            continue
        drawn += 1
        if region.group >= 0:
            lines = report.groups[region.group].lines()
        else:
            lines = [region.measurement.text()] if region.measurement is not None else []
        at = _label_anchor(graphics)
        for key in region.images:
            found = study.at(key)
            found.graphics.extend(graphics)
            first = (region.group, key) not in labelled or region.group < 0
            if first:
                labelled.add((region.group, key))
                found.measurements += 1
                found.labels.extend(Label(text, at, SR_COLOUR, n) for n, text in enumerate(lines))
    if drawn:
        study.reports += 1
    study.problems.extend(_problems(report.left_out))
