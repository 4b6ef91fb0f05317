"""The TUI entry point: the terminal probe runs before the app, settings pass through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tuipacs.app import app as app_module
from tuipacs.app import main
from tuipacs.config import Config
from tuipacs.store.archive import Archive
from tuipacs.view.graphics import probe
from tuipacs.view.graphics.probe import GraphicsConfig
from tuipacs.view.layout import CellSize


class FakeApp:
    """Stands in for the Textual app: records that it ran."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.return_code: int | None = 0

    def run(self) -> int:
        self.events.append("run")
        return 0


def test_probe_runs_before_the_app(
    archive: Archive, monkeypatch: pytest.MonkeyPatch, tuipacs_home: Path
) -> None:
    events: list[str] = []
    seen: dict[str, Any] = {}
    config = GraphicsConfig("sixel", CellSize(9, 18))

    def fake_detect(setting: str) -> tuple[GraphicsConfig, probe.ProbeResult]:
        events.append(f"probe {setting}")
        return config, probe.ProbeResult()

    def fake_build(archive: Archive, cfg: Config, **kwargs: Any) -> FakeApp:
        events.append("build")
        seen.update(kwargs)
        return FakeApp(events)

    monkeypatch.setattr(probe, "detect_graphics", fake_detect)
    monkeypatch.setattr(app_module, "build_app", fake_build)
    monkeypatch.setattr(probe, "_current", None)
    assert main.run_app(archive, Config(), graphics=None, theme="light") == 0
    assert events == ["probe auto", "build", "run"]
    assert seen == {"graphics": config, "theme": "light"}
    assert probe.current_config() is config


def test_explicit_graphics_setting_wins(
    archive: Archive, monkeypatch: pytest.MonkeyPatch, tuipacs_home: Path
) -> None:
    settings: list[str] = []

    def fake_detect(setting: str) -> tuple[GraphicsConfig, probe.ProbeResult]:
        settings.append(setting)
        return GraphicsConfig("halfcell"), probe.ProbeResult()

    monkeypatch.setattr(probe, "detect_graphics", fake_detect)
    monkeypatch.setattr(app_module, "build_app", lambda *a, **k: FakeApp([]))
    monkeypatch.setattr(probe, "_current", None)
    main.run_app(archive, Config(graphics="kitty"), graphics="halfcell")
    main.run_app(archive, Config(graphics="kitty"))
    assert settings == ["halfcell", "kitty"]


def test_bad_graphics_setting_is_one_line(
    archive: Archive, capsys: pytest.CaptureFixture[str], tuipacs_home: Path
) -> None:
    assert main.run_app(archive, Config(), graphics="vga") == 2
    err = capsys.readouterr().err
    assert err.startswith("tuipacs: error: unknown graphics backend 'vga'")
    assert err.count("\n") == 1


def test_build_app_graphics_without_probing(
    archive: Archive, monkeypatch: pytest.MonkeyPatch, tuipacs_home: Path
) -> None:
    monkeypatch.setattr(probe, "_current", None)
    monkeypatch.delenv("TUIPACS_GRAPHICS", raising=False)
    assert app_module.build_app(archive, Config()).graphics_config.backend == "halfcell"
    built = app_module.build_app(archive, Config(graphics="sixel"))
    assert built.graphics_config.backend == "sixel"
    built = app_module.build_app(archive, Config(graphics="sixel"), graphics="kitty")
    assert built.graphics_config.backend == "kitty"
