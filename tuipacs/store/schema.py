"""SQLite schema of the archive index, with numbered migrations."""

from __future__ import annotations

import sqlite3

# Each entry migrates from version N to N+1; the index's user_version is the count applied.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE patient (
        id INTEGER PRIMARY KEY,
        patient_id TEXT NOT NULL UNIQUE,
        patient_name TEXT NOT NULL DEFAULT '',
        name_search TEXT NOT NULL DEFAULT '',
        birth_date TEXT NOT NULL DEFAULT '',
        sex TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE study (
        id INTEGER PRIMARY KEY,
        patient_fk INTEGER NOT NULL REFERENCES patient(id) ON DELETE CASCADE,
        study_uid TEXT NOT NULL UNIQUE,
        study_date TEXT NOT NULL DEFAULT '',
        study_time TEXT NOT NULL DEFAULT '',
        accession TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        referring TEXT NOT NULL DEFAULT '',
        study_id TEXT NOT NULL DEFAULT '',
        modalities TEXT NOT NULL DEFAULT '',
        num_series INTEGER NOT NULL DEFAULT 0,
        num_instances INTEGER NOT NULL DEFAULT 0,
        size_bytes INTEGER NOT NULL DEFAULT 0,
        received REAL NOT NULL DEFAULT 0,
        last_opened REAL,
        pinned INTEGER NOT NULL DEFAULT 0,
        -- denormalised patient fields so that filters need no join
        patient_id TEXT NOT NULL DEFAULT '',
        name_search TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX study_date_idx ON study(study_date);
    CREATE INDEX study_accession_idx ON study(accession);
    CREATE INDEX study_patient_id_idx ON study(patient_id);
    CREATE INDEX study_patient_fk_idx ON study(patient_fk);
    CREATE INDEX study_evict_idx ON study(pinned, last_opened);
    CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        study_fk INTEGER NOT NULL REFERENCES study(id) ON DELETE CASCADE,
        series_uid TEXT NOT NULL UNIQUE,
        series_number TEXT NOT NULL DEFAULT '',
        description TEXT NOT NULL DEFAULT '',
        modality TEXT NOT NULL DEFAULT '',
        body_part TEXT NOT NULL DEFAULT '',
        series_date TEXT NOT NULL DEFAULT '',
        num_instances INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX series_study_idx ON series(study_fk);
    CREATE INDEX series_modality_idx ON series(modality);
    CREATE TABLE instance (
        id INTEGER PRIMARY KEY,
        series_fk INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
        sop_uid TEXT NOT NULL UNIQUE,
        sop_class_uid TEXT NOT NULL DEFAULT '',
        instance_number INTEGER,
        transfer_syntax TEXT NOT NULL DEFAULT '',
        rows INTEGER,
        columns INTEGER,
        frames INTEGER NOT NULL DEFAULT 1,
        file_size INTEGER NOT NULL DEFAULT 0,
        path TEXT NOT NULL,
        linked INTEGER NOT NULL DEFAULT 0,
        received REAL NOT NULL
    );
    CREATE INDEX instance_series_idx ON instance(series_fk);
    -- files being moved into place: recovered on open if a writer died mid-way
    CREATE TABLE pending (
        path TEXT PRIMARY KEY,
        created REAL NOT NULL
    );
    """,
    # 2: where each image lies, so that series can be shown in anatomical order
    """
    ALTER TABLE instance ADD COLUMN image_position TEXT NOT NULL DEFAULT '';
    ALTER TABLE instance ADD COLUMN image_orientation TEXT NOT NULL DEFAULT '';
    """,
    # 3: identity rules (store.identity) and the quarantine of refused instances
    """
    -- Issuer of Patient ID of the study's patient; NULL for studies indexed before (unknown)
    ALTER TABLE study ADD COLUMN issuer TEXT;
    CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        sop_uid TEXT NOT NULL,
        study_uid TEXT NOT NULL,
        series_uid TEXT NOT NULL,
        other_uid TEXT NOT NULL,
        reason TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        path TEXT NOT NULL,
        digest TEXT NOT NULL,
        file_size INTEGER NOT NULL DEFAULT 0,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        times INTEGER NOT NULL DEFAULT 1,
        UNIQUE (sop_uid, digest)
    );
    """,
    # 4: how many instances the node said a study holds when it was retrieved (store.expected)
    """
    CREATE TABLE study_expected (
        study_fk INTEGER PRIMARY KEY REFERENCES study(id) ON DELETE CASCADE,
        instances INTEGER NOT NULL,
        node TEXT NOT NULL DEFAULT '',
        recorded REAL NOT NULL
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(Exception):
    """The index was written by a newer tuipacs."""


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the index to SCHEMA_VERSION, one transaction per step."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"archive index has schema version {version}, newer than this tuipacs "
            f"({SCHEMA_VERSION}): upgrade tuipacs"
        )
    for number in range(version, SCHEMA_VERSION):
        conn.executescript(
            "BEGIN;" + MIGRATIONS[number] + f"PRAGMA user_version={number + 1}; COMMIT;"
        )
