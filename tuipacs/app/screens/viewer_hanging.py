"""Hanging protocols in the viewer (mixed into the ViewerScreen): when a study opens (not at
a series the reader chose), the protocol that matches it (:mod:`tuipacs.view.hanging`: the
built-in set and the reader's files in the config directory) lays it out: the grid, which
series goes in which viewport, each viewport's preset, and the prior beside it.

- The grid shrinks to the series there are (a 1x2 "with prior" of a one-series study without
  a prior stays 1x1; two series of a 2x2 show as 1x2), and grows when the prior is found.
- The prior is the nearest comparable earlier study of the same modality that is in the
  archive (the viewer's :class:`~tuipacs.app.widgets.priors_finder.PriorsFinder` looks for
  it in the background); one only on a node is left to the reader (``P`` fetches it).
- Problems with the reader's protocol files are one line each, shown once.
- ``hanging_protocols = false`` in config.toml turns them off; the help screen names the
  protocol applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, cast

from tuipacs.store.query import SeriesRow, StudyRow, get_study
from tuipacs.view.hanging import (
    Hanging,
    HangingProtocol,
    Placement,
    SeriesFacts,
    StudyFacts,
    hang,
    load_protocols,
    match,
)

if TYPE_CHECKING:
    from tuipacs.app.screens.viewer import ViewerScreen

_reported: set[str] = set()
"""Protocol file problems already shown in this process."""


def _screen(mixin: ViewerHanging) -> ViewerScreen:
    return cast("ViewerScreen", mixin)


NOT_IMAGES = frozenset({"PR", "KO", "SR", "SEG", "RTSTRUCT", "RTPLAN", "RTDOSE", "DOC", "REG"})
"""Modalities of series that are not images to hang: presentation states, key objects,
reports, segmentations, RT objects, documents, registrations (drawn over the images or shown
in their own screen)."""


def image_series(rows: list[SeriesRow]) -> list[SeriesRow]:
    """The series a protocol may put in a viewport (not the key images' virtual series)."""
    from tuipacs.writeback.keyimages import KEY_SERIES_UID

    return [
        row
        for row in rows
        if row.modality.strip().upper() not in NOT_IMAGES and row.series_uid != KEY_SERIES_UID
    ]


def series_facts(rows: list[SeriesRow]) -> list[SeriesFacts]:
    """What a protocol reads of the study's image series."""
    facts = []
    for row in image_series(rows):
        try:
            number: int | None = int(str(row.series_number).strip())
        except ValueError:
            number = None
        facts.append(
            SeriesFacts(
                row.series_uid, row.modality, row.description, row.body_part, number,
                row.num_instances,
            )
        )  # fmt: skip
    return facts


def study_facts(study: StudyRow, rows: list[SeriesRow]) -> StudyFacts:
    """What a protocol matches of the study."""
    listed = study.modalities.replace("\\", ",").split(",")
    modalities = tuple(m for m in listed if m.strip() and m.strip().upper() not in NOT_IMAGES)
    images = image_series(rows)
    modalities = modalities or tuple(dict.fromkeys(row.modality for row in images if row.modality))
    body = next((row.body_part for row in images if row.body_part), "")
    return StudyFacts(study.study_uid, modalities, study.description, body)


def shown_grid(grid: str, count: int) -> str:
    """The grid for ``count`` viewports with series, at most the protocol's ``grid``."""
    if count <= 1:
        return "1x1"
    if count == 2:
        return grid if grid in ("1x2", "2x1") else "1x2"
    return grid


class ViewerHanging:
    """Applies the study's hanging protocol when it opens."""

    hanging: Hanging | None = None
    """The layout applied (None: none, or the reader opened a chosen series)."""
    _protocol: HangingProtocol | None = None
    _series_rows: list[SeriesRow] | None = None
    _prior_uid = ""
    _prior_study: StudyRow | None = None

    def hanging_line(self) -> str:
        """The protocol applied, for the help screen ('' when none)."""
        hanging = self.hanging
        if hanging is None:
            return ""
        grid = _screen(self).grid
        return f"Hanging protocol: {hanging.protocol} ({hanging.source}), layout {grid}"

    def apply_pending_preset(self) -> None:
        """The current viewport's first image came: apply its protocol's preset, if any."""
        screen = _screen(self)
        preset, screen.pane.preset = screen.pane.preset, None
        number = next((n for n, c in enumerate(screen.choices, 1) if c.name == preset), 0)
        if number:
            screen.action_preset(number)

    def start_hanging(self) -> None:
        """Hang the study when its series are listed (called when it opens at no series)."""
        screen = _screen(self)
        screen.panes[0].loader.prefer = self._hang_first

    def _hang_first(self, rows: list[SeriesRow]) -> int:
        """The series listed: match a protocol, lay out the study, and say which series the
        first viewport opens."""
        screen = _screen(self)
        protocols, problems = load_protocols(_protocols_dir())
        fresh = [line for line in problems if line not in _reported]
        _reported.update(fresh)
        for line in fresh[:3]:
            screen.notify(line, severity="warning", timeout=8)
        facts = study_facts(screen.panes[0].study, rows)
        protocol = match(protocols, facts)
        if protocol is None:
            return 0
        self._protocol, self._series_rows = protocol, rows
        self.hanging = hang(protocol, facts, series_facts(rows), None)
        if _as_opened(protocol):
            return 0  # one viewport, any series, its window: the study as it opens anyway
        screen.call_after_refresh(self._lay_out)
        screen.priors.listeners.append(self._priors_changed)
        screen.call_after_refresh(self._priors_changed)  # found before the series were
        uids = [row.series_uid for row in rows]
        first = self._placement(0)
        if first is not None and first.series_uid in uids:
            screen.panes[0].preset = first.preset
            return uids.index(first.series_uid)
        return 0

    def _placement(self, viewport: int) -> Placement | None:
        hanging = self.hanging
        if hanging is None:
            return None
        return next((p for p in hanging.placements if p.viewport == viewport), None)

    def _lay_out(self) -> None:
        """Open the viewports the hanging asks for (the first is open already), in the
        order of the protocol's viewports; a viewport showing its series already stays."""
        screen, hanging, prior = _screen(self), self.hanging, self._prior_study
        if hanging is None or not screen.is_attached:
            return
        placements = sorted((p for p in hanging.placements if p.viewport > 0), key=_viewport)
        wanted = shown_grid(hanging.grid, 1 + len(placements))
        if wanted != screen.grid:
            screen.set_grid(wanted, fill=False)
        rows, cols = (int(n) for n in wanted.split("x"))
        for number, placement in enumerate(placements[: rows * cols - 1], start=1):
            study = prior if placement.study == "prior" and prior is not None else None
            study = study or screen.panes[0].study
            index = number if number < len(screen.panes) else None
            if index is not None:
                shown = screen.panes[index]
                uid = shown.loader.open_uid or shown.loader.start_series
                if shown.study.study_uid == study.study_uid and uid == placement.series_uid:
                    continue
            pane = screen.open_pane(study, placement.series_uid, index)
            pane.preset = placement.preset

    def _priors_changed(self) -> None:
        """The priors finder found more: hang the nearest comparable prior in the archive."""
        screen = _screen(self)
        hanging, protocol = self.hanging, self._protocol
        if hanging is None or protocol is None or not hanging.wants_prior or self._prior_uid:
            return
        prior = next(
            (
                p.candidate
                for p in screen.priors.priors
                if p.candidate.where != "node" and p.tier <= 1 and (p.days or 0) < 0
            ),
            None,
        )
        if prior is None:
            return
        uid = self._prior_uid = prior.study_uid
        screen.run_worker(
            lambda: self._prior_series(uid), name="prior_series", group="hanging",
            thread=True, exit_on_error=False,
        )  # fmt: skip

    def _prior_series(self, study_uid: str) -> None:
        """Worker: the prior and its series from the index, then the layout again with the
        prior placed."""
        from tuipacs.store.query import list_series

        screen = _screen(self)
        try:
            study = get_study(screen.archive, study_uid)
            rows = list_series(screen.archive, study_uid) if study is not None else []
        except Exception:  # noqa: BLE001 - a prior that cannot be listed is not hung
            return
        if study is None:
            return
        screen.app.call_from_thread(self._hang_prior, study, rows)

    def _hang_prior(self, study: StudyRow, rows: list[SeriesRow]) -> None:
        """The prior's series are listed: place them (the current study's stay)."""
        screen, protocol = _screen(self), self._protocol
        if protocol is None or self._series_rows is None or not screen.is_attached:
            return
        facts = study_facts(screen.panes[0].study, self._series_rows)
        current = series_facts(self._series_rows)
        self.hanging = hang(protocol, facts, current, series_facts(rows))
        self._prior_study = study
        self._lay_out()


def _as_opened(protocol: HangingProtocol) -> bool:
    """A protocol of one viewport that names no series, modality or preset (the built-in
    "Default"): the study opens at its first series, as without protocols."""
    rules = protocol.viewports[:1]
    rule = rules[0] if rules else None
    plain = rule is None or (rule.series is None and rule.modality is None and not rule.preset)
    return protocol.grid == "1x1" and plain and rule is not None and rule.study == "current"


def _viewport(placement: Placement) -> int:
    return placement.viewport


def _protocols_dir() -> Path | None:
    from tuipacs.locations import protocols_dir

    try:
        return protocols_dir()
    except Exception:  # noqa: BLE001 - no home: the built-in set only
        return None
