"""Priors: the patient's other studies, the nearest comparable prior first (pure: no Textual,
no archive, no network).

A :class:`Candidate` is a study of the same patient found here (the local archive) or on the
node the study came from; :func:`merge` keeps one per Study Instance UID (the local one wins,
marked ``both`` when the node has it too); :func:`rank` orders them for the current study:

1. comparable first: the same modality and the same region (a body part, or a keyword of the
   study description), then the same modality, then the same region, then the rest;
2. within each, studies before the current one (nearest first), then later ones (nearest
   first), then undated ones.

Each comes with a short reason ("CT CHEST, 1 y 2 m earlier"). Patient identity is matched by
:func:`same_patient` (Patient ID, and its issuer when the answer gives one), never by name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from tuipacs.store.query import SeriesRow

Where = Literal["here", "node", "both"]

_MODALITY = re.compile(r"^[A-Z0-9]{1,16}$")
_WORD = re.compile(r"[A-Z0-9]+")
_DATE = re.compile(r"^[0-9]{8}$")

STOP_WORDS = frozenset(
    {
        "AND", "THE", "WITH", "WITHOUT", "CONTRAST", "NON", "PLUS", "POST", "PRE", "STUDY",
        "EXAM", "SCAN", "ROUTINE", "PROTOCOL", "SERIES", "IMAGE", "IMAGES", "VIEW", "VIEWS",
        "LEFT", "RIGHT", "BILAT", "BILATERAL", "FOR", "ONLY", "DEMO", "TEST", "AXIAL",
    }
)  # fmt: skip
"""Description words that say nothing of the region examined."""

SYNONYMS = {
    "BRAIN": "HEAD",
    "SKULL": "HEAD",
    "CRANIUM": "HEAD",
    "THORAX": "CHEST",
    "LUNG": "CHEST",
    "LUNGS": "CHEST",
    "PULMONARY": "CHEST",
    "ABD": "ABDOMEN",
    "ABDO": "ABDOMEN",
    "LIVER": "ABDOMEN",
    "MAMMO": "BREAST",
}
"""Region words folded onto one (a brain MR compares with a head CT)."""

MODALITY_WORDS = frozenset({"MRI", "PET", "CTA", "MRA", "XRAY"})
"""Description words naming a modality (compared as modalities, not as regions)."""

MAX_TERMS = 32
"""Region terms kept of one study (a description is short; a hostile one is not)."""


@dataclass(frozen=True)
class Candidate:
    """A study of the patient: what the ranking reads, and where it is."""

    study_uid: str
    study_date: str = ""
    """YYYYMMDD as stored or answered (anything else counts as undated)."""
    modalities: tuple[str, ...] = ()
    body_parts: tuple[str, ...] = ()
    description: str = ""
    images: int | None = None
    where: Where = "here"


@dataclass(frozen=True)
class Prior:
    """A ranked candidate with the reason for its place."""

    candidate: Candidate
    reason: str
    tier: int
    """0: same modality and region; 1: same modality; 2: same region; 3: neither."""
    days: int | None
    """Days from the current study (negative: before it; None: undated)."""


def same_patient(patient_id: str, issuer: str, other_id: str, other_issuer: str | None) -> bool:
    """Is a study with (``other_id``, ``other_issuer``) of the patient (``patient_id``,
    ``issuer``)? The IDs must be equal (spaces trimmed) and not empty; the issuers must be
    equal when the other gives one (None or empty: a node that did not return it)."""
    pid = patient_id.strip()
    if not pid or other_id.strip() != pid:
        return False
    if other_issuer is None or not other_issuer.strip():
        return True
    return other_issuer.strip() == issuer.strip()


def modality_codes(text: str) -> tuple[str, ...]:
    """The modality codes of a ``CT\\SR`` value (upper case; anything not a code dropped)."""
    codes: list[str] = []
    for part in text.upper().split("\\"):
        code = part.strip()
        if _MODALITY.match(code) and code not in codes:
            codes.append(code)
    return tuple(codes[:MAX_TERMS])


def region_terms(body_parts: tuple[str, ...], description: str) -> frozenset[str]:
    """The region words of a study: its body parts and its description's words (without
    the words that say nothing of a region, and folded by :data:`SYNONYMS`)."""
    words = [w for part in body_parts for w in _WORD.findall(part.upper()[:200])]
    words += _WORD.findall(description.upper()[:200])
    terms = {
        SYNONYMS.get(w, w)
        for w in words
        if len(w) >= 3 and w not in STOP_WORDS and w not in MODALITY_WORDS and not w.isdigit()
    }
    return frozenset(sorted(terms)[:MAX_TERMS])


def parse_date(text: str) -> date | None:
    """A DICOM date (YYYYMMDD), None when it is not one."""
    text = text.strip()
    if not _DATE.match(text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def distance_text(current: date, other: date) -> str:
    """How far ``other`` is from ``current``: ``1 y 2 m earlier``, ``3 d later``,
    ``same day``."""
    if other == current:
        return "same day"
    earlier = other < current
    low, high = (other, current) if earlier else (current, other)
    months = (high.year - low.year) * 12 + (high.month - low.month)
    if high.day < low.day:
        months -= 1
    if months >= 1:
        years, months = divmod(months, 12)
        parts = ([f"{years} y"] if years else []) + ([f"{months} m"] if months else [])
        span = " ".join(parts)
    else:
        span = f"{(high - low).days} d"
    return f"{span} {'earlier' if earlier else 'later'}"


def merge(local: list[Candidate], remote: list[Candidate]) -> list[Candidate]:
    """One candidate per Study Instance UID: the local one wins (``both`` when the node has
    it too); the node's are ``node``. Candidates without a UID are dropped."""
    merged: dict[str, Candidate] = {}
    for cand in local:
        if cand.study_uid and cand.study_uid not in merged:
            merged[cand.study_uid] = replace(cand, where="here")
    for cand in remote:
        if not cand.study_uid:
            continue
        have = merged.get(cand.study_uid)
        if have is None:
            merged[cand.study_uid] = replace(cand, where="node")
        elif have.where == "here":
            merged[cand.study_uid] = replace(have, where="both")
    return list(merged.values())


def rank(current: Candidate, candidates: list[Candidate]) -> list[Prior]:
    """``candidates`` (the current study left out) ordered for comparison with ``current``,
    the nearest comparable prior first, each with its reason."""
    now = parse_date(current.study_date)
    modalities = set(current.modalities)
    regions = region_terms(current.body_parts, current.description)
    ranked: list[tuple[tuple[int, int, int, str], Prior]] = []
    for cand in candidates:
        if cand.study_uid == current.study_uid:
            continue
        shared_mod = [m for m in cand.modalities if m in modalities]
        shared_region = sorted(regions & region_terms(cand.body_parts, cand.description))
        tier = (0 if shared_mod else 2) + (0 if shared_region else 1)
        when = parse_date(cand.study_date)
        days = (when - now).days if when is not None and now is not None else None
        timing = 2 if days is None else (0 if days <= 0 else 1)
        distance = abs(days) if days is not None else 0
        prior = _prior(cand, tier, days, now, shared_mod, shared_region)
        ranked.append(((tier, timing, distance, cand.study_uid), prior))
    ranked.sort(key=lambda item: item[0])
    return [prior for _, prior in ranked]


def _prior(
    cand: Candidate,
    tier: int,
    days: int | None,
    now: date | None,
    shared_mod: list[str],
    shared_region: list[str],
) -> Prior:
    """The Prior of ``cand`` with its reason."""
    what = " ".join(shared_mod[:2] + shared_region[:2])
    if not what:
        what = "other modality and region"
    elif not shared_mod:
        what = f"{what}, other modality"
    elif not shared_region:
        what = f"{what}, other region"
    when = parse_date(cand.study_date)
    if days is None or now is None or when is None:
        timing = "no date"
    else:
        timing = distance_text(now, when)
    return Prior(cand, f"{what}, {timing}", tier, days)


def comparable_series(rows: Sequence[SeriesRow], modality: str, description: str) -> int:
    """The series of a prior to compare with one of ``modality`` and ``description``: the
    same modality first, then the most alike description, then the most images (0 when
    ``rows`` is empty)."""
    if not rows:
        return 0
    wanted = description.lower()[:128]

    def score(item: tuple[int, SeriesRow]) -> tuple[bool, float, int]:
        row = item[1]
        alike = difflib.SequenceMatcher(None, wanted, row.description.lower()[:128]).ratio()
        return (row.modality == modality, alike, row.num_instances)

    return max(enumerate(rows), key=score)[0]
