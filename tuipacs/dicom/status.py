"""DIMSE status codes: category, text and what to do about them."""

from __future__ import annotations

from dataclasses import dataclass

SUCCESS = "success"
PENDING = "pending"
CANCEL = "cancel"
WARNING = "warning"
FAILURE = "failure"

_WARNING_CODES = {0x0001, 0x0107, 0x0116}

# code -> (text, advice)
_KNOWN: dict[int, tuple[str, str]] = {
    0x0000: ("success", ""),
    0xFF00: ("pending", ""),
    0xFF01: ("pending (some optional keys not supported)", ""),
    0xFE00: ("cancelled", ""),
    0x0001: ("warning: requested optional attributes are not supported", ""),
    0x0107: ("warning: attribute list error", ""),
    0x0116: ("warning: attribute value out of range", ""),
    0xB000: (
        "warning: some sub-operations failed or were coerced",
        "check the failed instances and retrieve again to fetch what is missing",
    ),
    0xB006: ("warning: elements discarded", ""),
    0xB007: ("warning: data set does not match SOP class", ""),
    0x0122: (
        "SOP class not supported",
        "the archive does not offer this service; try the other retrieve method (get/move)",
    ),
    0x0124: (
        "refused: not authorised",
        "ask the archive's administrator to allow our AE title for this service",
    ),
    0x0210: ("duplicate invocation", "retry the request"),
    0x0211: ("unrecognised operation", "the archive does not support this request"),
    0x0212: ("mistyped argument", "check the query keys and their values"),
    0x0213: ("resource limitation", "the archive is busy: retry later"),
    0xA700: (
        "out of resources",
        "the archive is out of resources: retry later or ask for fewer images at a time",
    ),
    0xA701: (
        "out of resources: unable to calculate number of matches",
        "narrow the query (add a date range or more keys) and retry",
    ),
    0xA702: (
        "out of resources: unable to perform sub-operations",
        "the archive is out of resources: retry later or retrieve series by series",
    ),
    0xA801: (
        "move destination unknown",
        "the archive does not know our AE title: add it with our host and port to the "
        "archive's list of modalities, or use C-GET (method get)",
    ),
    0xA900: (
        "identifier does not match SOP class",
        "check the query level and keys (e.g. a UID is missing for the level)",
    ),
    0xC000: ("unable to process", "the archive could not process the request: see its log"),
}


@dataclass(frozen=True)
class StatusInfo:
    """What a DIMSE status code means and what to do about it."""

    code: int
    category: str
    text: str
    advice: str

    @property
    def ok(self) -> bool:
        """True for success, pending and warning."""
        return self.category in {SUCCESS, PENDING, WARNING}

    def line(self) -> str:
        """One line: text, code and advice."""
        base = f"{self.text} (0x{self.code:04X})"
        return f"{base}: {self.advice}" if self.advice else base


def category(code: int) -> str:
    """Category of a DIMSE status code: success, pending, cancel, warning or failure."""
    if code == 0x0000:
        return SUCCESS
    if code in (0xFF00, 0xFF01):
        return PENDING
    if code == 0xFE00:
        return CANCEL
    if code in _WARNING_CODES or 0xB000 <= code <= 0xBFFF:
        return WARNING
    return FAILURE


def describe(code: int) -> StatusInfo:
    """Describe any status code, falling back on its range (A7xx, A9xx, Cxxx)."""
    cat = category(code)
    if code in _KNOWN:
        text, advice = _KNOWN[code]
    elif 0xA700 <= code <= 0xA7FF:
        text, advice = _KNOWN[0xA700]
    elif 0xA900 <= code <= 0xA9FF:
        text, advice = _KNOWN[0xA900]
    elif 0xC000 <= code <= 0xCFFF:
        text, advice = _KNOWN[0xC000]
    elif cat == WARNING:
        text, advice = "warning", ""
    else:
        text, advice = "failed", "see the archive's log for this status code"
    return StatusInfo(code, cat, text, advice)


def status_text(code: int) -> str:
    """One-line text for a status code, with advice when it is a problem."""
    return describe(code).line()
