"""Helpers shared by the test suite (not a test module)."""

from __future__ import annotations

import os
import shutil
import socket

import pytest


def in_ci() -> bool:
    """True when running under CI (CI=true), where missing tools are failures."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_binary(name: str) -> str:
    """Return the path of an external program, or skip (fail under CI) if absent."""
    path = shutil.which(name)
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
