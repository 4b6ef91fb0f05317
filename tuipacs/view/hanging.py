"""Hanging protocols: which series of a study (and of its prior) go in which viewport of a
1x1, 1x2, 2x1 or 2x2 layout, from rules per modality and region (pure: no Textual; reads
protocol files only).

:func:`load_protocols` reads the built-in set (``tuipacs/view/protocols.toml``) and the
reader's own files (every ``*.toml`` of a folder, :func:`tuipacs.locations.protocols_dir`);
:func:`match` picks the protocol for a study; :func:`hang` places its series.

The format (one file may hold up to 64 protocols)::

    [[protocol]]
    name = "CT chest with prior"
    priority = 10                       # higher wins; default 0, -1000..1000
    match.modality = ["CT"]             # any of; empty/absent = any
    match.body_part = "chest|thorax"    # regex, case-insensitive, searched; absent = any
    match.description = "chest|thorax|lung"
    grid = "1x2"                        # 1x1, 1x2, 2x1, 2x2 (rows x columns)
    [[protocol.viewport]]               # row by row; up to 4
    study = "current"                   # or "prior"; default "current"
    series = "lung|thin"                # regex on SeriesDescription; absent = the largest
    modality = "CT"                     # optional: only series of this modality
    preset = "lung"                     # optional window preset (see presets), or "user:NAME"
    [[protocol.viewport]]
    study = "prior"
    series = "lung|thin"
    preset = "lung"

Matching: a study fits when one of its modalities is in ``match.modality`` (or none is
given) and, when ``match.body_part`` or ``match.description`` is given, one of them is found
in the study's Body Part Examined or Study Description (either is enough: many studies fill
only one). The protocol chosen is the first that fits by priority (highest first), then the
reader's before the built-in ones, then file order (files by name); the built-in "Default"
(priority -100) fits every study.

Placing: each viewport takes, among the series of its study with images (of its modality
when given), the first by Series Number whose description its ``series`` regex finds, then
the viewports left take the series with the most images; a series placed in one viewport is
not placed in another of the same study. A viewport of the prior takes the current study's
next unused series while there is no prior (or the prior has none left). Viewports the
protocol does not list show the largest unused series; viewports left over when the series
run out stay empty. The grid defaults to the smallest that holds the viewports listed.

A bad file is normal input: a file that is not a regular file, is over 256 KiB, is not
UTF-8, is not valid TOML, nests keys or brackets absurdly or has more than 64 protocols, and
a protocol with an unknown key, a wrong type, an unknown grid or preset, more viewports than
its grid (or than 4), or a regex that does not compile, is over 200 characters or may
backtrack without bound (a repetition inside a repetition, more than two repetitions, a back
reference) is skipped with one line naming the file and what to fix. Regexes look at the
first 256 characters of a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tuipacs.imaging.presets import USER_PREFIX, preset_names
from tuipacs.view.hanging_load import builtin_protocols, load_protocols, parse_text
from tuipacs.view.hanging_rules import (
    BUILT_IN,
    GRIDS,
    HangingProtocol,
    ViewportRule,
    search,
)

__all__ = [
    "BUILT_IN",
    "GRIDS",
    "Hanging",
    "HangingProtocol",
    "Placement",
    "SeriesFacts",
    "StudyFacts",
    "ViewportRule",
    "builtin_protocols",
    "hang",
    "load_protocols",
    "match",
    "parse_text",
]

MAX_STUDY_MODALITIES = 64
"""Modalities of a study compared at most (a hostile answer may list thousands)."""


@dataclass(frozen=True)
class SeriesFacts:
    """What a protocol knows of one series."""

    series_uid: str
    modality: str
    description: str
    body_part: str
    number: int | None  # SeriesNumber
    images: int  # instance count


@dataclass(frozen=True)
class StudyFacts:
    """What a protocol knows of one study."""

    study_uid: str
    modalities: tuple[str, ...]
    description: str
    body_part: str  # from its series (first non-empty), '' if none


@dataclass(frozen=True)
class Placement:
    """One series in one viewport."""

    viewport: int  # 0-based, row-major in the grid
    study: str  # "current" or "prior"
    series_uid: str
    preset: str | None  # a preset name as tuipacs.imaging.presets names them, or None


@dataclass(frozen=True)
class Hanging:
    """Where a protocol puts a study's series."""

    protocol: str  # the protocol's name (the help screen shows it)
    source: str  # "built-in" or the file name (not the full path)
    grid: str  # one of GRIDS
    placements: tuple[Placement, ...]
    wants_prior: bool  # a viewport asks for the prior (the lead finds/fetches it)


def fits(protocol: HangingProtocol, study: StudyFacts) -> bool:
    """True when ``protocol``'s match rules fit ``study`` (see the module docstring)."""
    if protocol.modalities:
        codes = {code.strip().upper() for code in study.modalities[:MAX_STUDY_MODALITIES]}
        if codes.isdisjoint(protocol.modalities):
            return False
    region = [
        (pattern, value)
        for pattern, value in (
            (protocol.body_part, study.body_part),
            (protocol.description, study.description),
        )
        if pattern is not None
    ]
    return not region or any(search(pattern, value) for pattern, value in region)


def match(protocols: Sequence[HangingProtocol], study: StudyFacts) -> HangingProtocol | None:
    """The first protocol (highest priority, then user before built-in, then file order)
    whose match rules fit the study."""
    ordered = sorted(protocols, key=lambda protocol: -protocol.priority)  # stable
    return next((protocol for protocol in ordered if fits(protocol, study)), None)


def hang(
    protocol: HangingProtocol,
    study: StudyFacts,
    series: list[SeriesFacts],
    prior: list[SeriesFacts] | None,
) -> Hanging:
    """Which series goes where: each viewport's rule picks a series of the current study
    (or of the prior when given; a prior viewport without a prior gets the current study's
    next unused series, never left empty when series remain)."""
    del study  # the protocol was matched on it; the placing needs only the series
    pools = {"current": _usable(series), "prior": _usable(prior or [])}
    used: dict[str, set[str]] = {"current": set(), "prior": set()}
    rules = list(protocol.viewports[: protocol.cells])
    rules += [ViewportRule()] * (protocol.cells - len(rules))
    chosen: dict[int, Placement] = {}
    for by_description in (True, False):
        for viewport, rule in enumerate(rules):
            if viewport in chosen or (by_description and rule.series is None):
                continue
            for key in _studies(rule, pools):
                pick = _pick(pools[key], rule, used[key], by_description)
                if pick is not None:
                    used[key].add(pick.series_uid)
                    preset = _preset(rule.preset, pick.modality)
                    chosen[viewport] = Placement(viewport, key, pick.series_uid, preset)
                    break
    return Hanging(
        protocol=protocol.name,
        source=protocol.source,
        grid=protocol.grid,
        placements=tuple(chosen[viewport] for viewport in sorted(chosen)),
        wants_prior=protocol.wants_prior,
    )


def _usable(series: Sequence[SeriesFacts]) -> list[SeriesFacts]:
    """Series with images, each UID once (the first), ordered by Series Number (those
    without one last, in the order given)."""
    seen: set[str] = set()
    kept: list[SeriesFacts] = []
    for item in series:
        if item.images > 0 and item.series_uid not in seen:
            seen.add(item.series_uid)
            kept.append(item)
    return sorted(kept, key=lambda item: (item.number is None, item.number or 0))


def _studies(rule: ViewportRule, pools: dict[str, list[SeriesFacts]]) -> tuple[str, ...]:
    """The studies a viewport takes a series from, in order of preference."""
    return ("prior", "current") if rule.study == "prior" and pools["prior"] else ("current",)


def _pick(
    pool: list[SeriesFacts], rule: ViewportRule, used: set[str], by_description: bool
) -> SeriesFacts | None:
    """The first unused series of ``pool`` whose description the rule's regex finds
    (``by_description``), else the unused one with the most images (the first of equals)."""
    free = [
        item
        for item in pool
        if item.series_uid not in used
        and (rule.modality is None or item.modality.strip().upper() == rule.modality)
    ]
    if by_description:
        pattern = rule.series
        return next((s for s in free if pattern and search(pattern, s.description)), None)
    return max(free, key=lambda item: item.images, default=None)


def _preset(name: str | None, modality: str) -> str | None:
    """The rule's preset when the series' modality offers it (a reader's own preset is
    left to the viewer, which knows them), else None: a lung window on an MR is no use."""
    if name is None or name.startswith(USER_PREFIX):
        return name
    return name if name in preset_names(modality) else None
