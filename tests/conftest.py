"""Suite-wide fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def tuipacs_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point TUIPACS_HOME at a private folder so config, archive and cache are isolated."""
    home = tmp_path / "tuipacs-home"
    home.mkdir()
    monkeypatch.setenv("TUIPACS_HOME", str(home))
    yield home
