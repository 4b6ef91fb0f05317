"""Helpers shared by the test suite (not a test module)."""

from __future__ import annotations

import os
import shutil
import socket

import pytest


def in_ci() -> bool:
    """True when running under CI (CI=true), where missing tools are failures."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _is_native(path: str) -> bool:
    """True for a compiled program (ELF), not a script or a pyenv shim."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def find_binary(name: str) -> str | None:
    """The first native program called ``name`` on PATH.

    pynetdicom installs Python scripts named like DCMTK's tools (storescp, findscu, ...);
    shims or scripts earlier on PATH must not stand in for the real DCMTK programs.
    """
    for folder in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/bin", "/usr/sbin"]:
        candidate = shutil.which(name, path=folder) if folder else None
        if candidate and _is_native(candidate):
            return candidate
    return None


def require_binary(name: str) -> str:
    """Return the path of an external (native) program, or skip (fail under CI) if absent."""
    path = find_binary(name)
    if path is None:
        message = f"required program {name!r} is not installed (see .ci/run for the apt packages)"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bind to port 0 and ask the kernel)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
