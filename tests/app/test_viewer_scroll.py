"""Pilot test of accelerated scrolling: a step key held through a large stack moves one
image per press at first, then more (up to a fortieth of the stack), and a fresh press moves
one again (small stacks: tests/unit/test_view_state.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from apphelpers import HALFCELL, SIZE, settle, workers_done
from mprkit import StackSpec, make_stack

from tuipacs.app.app import build_app
from tuipacs.app.screens import viewer_keys
from tuipacs.app.screens.viewer import ViewerScreen
from tuipacs.config import Config
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths
from tuipacs.store.query import get_study
from tuipacs.view import state


def _archive(root: Path, slices: int) -> tuple[Archive, Any]:
    datasets = make_stack(StackSpec(slices=slices, rows=8, columns=8))
    paths = []
    for n, ds in enumerate(datasets):
        path = root / "files" / f"{n}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    archive = Archive.open(root / "archive")
    assert import_paths(archive, paths).added == slices
    return archive, datasets[0]


async def test_held_step_key_accelerates_in_large_stacks(
    tmp_path: Path, tuipacs_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slices, expected = 160, 36
    # every press after the first counts as held, however slow the machine
    monkeypatch.setattr(viewer_keys, "REPEAT_GAP", 1e6)
    monkeypatch.setattr(state, "ACCELERATE_EVERY", 2)  # the thresholds: test_view_state.py
    archive, first = _archive(tmp_path, slices)
    try:
        app = build_app(archive, Config(), graphics=HALFCELL)
        async with app.run_test(size=SIZE) as pilot:
            await workers_done(pilot)
            study = get_study(archive, first.StudyInstanceUID)
            assert study is not None
            screen = ViewerScreen(archive, study, settings=app.settings)
            await app.push_screen(screen)
            await settle(pilot)
            await pilot.press(*["j"] * 12)
            await settle(pilot)
            # 1 (the first press), then repeats 1 by 1, 2-3 by 2, 4-5 by 3, 6-11 by 4 (a
            # fortieth of 160): 1 + 1 + 4 + 6 + 24 = 36
            assert screen.state.index == expected
            await pilot.press("k")  # another key: a fresh press, one image
            await settle(pilot)
            assert screen.state.index == expected - 1
    finally:
        archive.close()
