"""Where tuipacs keeps its files: XDG directories via platformdirs.

``TUIPACS_HOME=DIR`` puts config, archive and cache under ``DIR`` (tests and users who keep
several profiles rely on it).

The functions here only name folders; whoever creates one uses :func:`make_private_dir`
(0700 whatever the umask, missing parents too), as ``Archive.open`` does for the archive.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "tuipacs"
HOME_ENV = "TUIPACS_HOME"


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def config_dir() -> Path:
    """Folder holding ``config.toml``."""
    home = _home()
    return home if home else Path(platformdirs.user_config_dir(APP_NAME))


def config_file() -> Path:
    """The configuration file (it need not exist)."""
    return config_dir() / "config.toml"


def protocols_dir() -> Path:
    """Folder of the reader's hanging protocols (``*.toml``; it need not exist)."""
    return config_dir() / "protocols"


def archive_dir() -> Path:
    """The local archive: DICOM files laid out by UID plus the SQLite index."""
    home = _home()
    return home / "archive" if home else Path(platformdirs.user_data_dir(APP_NAME)) / "archive"


def cache_dir() -> Path:
    """Disposable data (thumbnails and the like)."""
    home = _home()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME))


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and its missing parents) readable by this user only; returns it."""
    from tuipacs.store.files import make_private_dirs

    make_private_dirs(path)
    return path
