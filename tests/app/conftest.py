"""Fixtures for the TUI tests: a demo archive built once per session, an app factory with a
forced half-cell display, and a message hook on every app run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from apphelpers import CT_SLICES, HALFCELL, watch_of
from textual.app import App

from tuipacs import demo
from tuipacs.app.app import TuipacsApp, build_app
from tuipacs.config import Config
from tuipacs.store.archive import Archive
from tuipacs.store.importer import import_paths


@pytest.fixture(autouse=True)
def message_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every app run with ``run_test`` (snapshots included) gets a message hook, so that
    tests can wait for what its messages do (``apphelpers.until``) instead of sleeping."""
    original = App.run_test

    def run_test(self: App[object], **kwargs: object) -> object:
        if kwargs.get("message_hook") is None:
            kwargs["message_hook"] = watch_of(self)
        return original(self, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(App, "run_test", run_test)


@pytest.fixture(scope="session")
def archive_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo archive (CT with 20 slices, DX, MR with 2 series, US cine) built once."""
    root = tmp_path_factory.mktemp("tui-archive")
    files = demo.generate(root / "demo", ct_slices=CT_SLICES)
    archive = Archive.open(root / "archive")
    summary = import_paths(archive, files)
    assert summary.added == len(files)
    archive.close()
    return root / "archive"


@pytest.fixture
def archive(archive_template: Path) -> Iterator[Archive]:
    """The shared demo archive (tests that write use ``archive_copy``)."""
    opened = Archive.open(archive_template)
    yield opened
    opened.close()


@pytest.fixture
def archive_copy(archive_template: Path, tmp_path: Path) -> Iterator[Archive]:
    """A private copy of the demo archive, free to modify."""
    root = tmp_path / "archive"
    shutil.copytree(archive_template, root)
    opened = Archive.open(root)
    yield opened
    opened.close()


@pytest.fixture
def make_app(tuipacs_home: Path) -> object:
    """A factory of apps over an archive with half-cell graphics and the default theme."""

    def factory(archive: Archive, theme: str | None = "reading-room") -> TuipacsApp:
        return build_app(archive, Config(), graphics=HALFCELL, theme=theme)

    return factory


@pytest.fixture
def layout_archive(tmp_path: Path) -> Iterator[tuple[Archive, dict[str, list[Any]]]]:
    """The layout tests' CT study and its prior (tests/app/layoutkit.py), with the datasets
    written, by name (thin, thick, coronal, prior)."""
    from layoutkit import layout_archive_at

    archive, made = layout_archive_at(tmp_path)
    yield archive, made
    archive.close()
