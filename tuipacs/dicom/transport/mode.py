"""The one switch between the two transports: ``TUIPACS_TRANSPORT`` (``fast`` or ``stock``).

Read here and nowhere else, once per association (so a benchmark can compare both in one
process). Anything but ``stock`` means ``fast``; a value that is neither is logged once.
"""

from __future__ import annotations

import logging
import os
from typing import Literal

LOG = logging.getLogger(__name__)

Mode = Literal["fast", "stock"]
#: The environment variable that selects the transport.
VARIABLE = "TUIPACS_TRANSPORT"
MODES: tuple[Mode, ...] = ("fast", "stock")
_warned: set[str] = set()


def selected() -> Mode:
    """The transport the next association uses: ``fast`` (default) or ``stock``."""
    value = os.environ.get(VARIABLE, "").strip().lower()
    if value == "stock":
        return "stock"
    if value not in ("", "fast") and value not in _warned:
        _warned.add(value)
        LOG.warning("%s=%s is not 'fast' or 'stock': using 'fast'", VARIABLE, ascii(value)[1:-1])
    return "fast"
