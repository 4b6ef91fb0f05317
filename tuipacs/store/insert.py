"""Indexing one instance (its patient, study and series rows too) in an open transaction."""

from __future__ import annotations

import sqlite3
import time

from tuipacs.store.instance import InstanceRecord


def insert_instance(
    conn: sqlite3.Connection, rec: InstanceRecord, rel: str, *, linked: bool
) -> bool:
    """Index one instance; False if its SOP Instance UID was already there.

    The caller has checked the identity rules (store.identity.check) in the same
    transaction.
    """
    if conn.execute("SELECT 1 FROM instance WHERE sop_uid = ?", (rec.sop_uid,)).fetchone():
        return False
    name_search = rec.patient_name.lower()
    patient_fk = conn.execute(
        "INSERT INTO patient(patient_id, patient_name, name_search, birth_date, sex) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(patient_id) DO UPDATE SET "
        "patient_name = excluded.patient_name, name_search = excluded.name_search, "
        "birth_date = excluded.birth_date, sex = excluded.sex RETURNING id",
        (rec.patient_id, rec.patient_name, name_search, rec.birth_date, rec.sex),
    ).fetchone()[0]
    now = time.time()
    conn.execute(
        "INSERT INTO study(patient_fk, study_uid, study_date, study_time, accession, "
        "description, referring, study_id, received, patient_id, name_search, issuer) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(study_uid) DO UPDATE SET "
        "issuer = coalesce(issuer, excluded.issuer)",
        (
            patient_fk,
            rec.study_uid,
            rec.study_date,
            rec.study_time,
            rec.accession,
            rec.study_description,
            rec.referring,
            rec.study_id,
            now,
            rec.patient_id,
            name_search,
            rec.issuer_of_patient_id.strip(),
        ),
    )
    study = conn.execute(
        "SELECT id, modalities FROM study WHERE study_uid = ?", (rec.study_uid,)
    ).fetchone()
    cur = conn.execute(
        "INSERT INTO series(study_fk, series_uid, series_number, description, modality, "
        "body_part, series_date) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(series_uid) DO NOTHING",
        (
            study["id"],
            rec.series_uid,
            rec.series_number,
            rec.series_description,
            rec.modality,
            rec.body_part,
            rec.series_date,
        ),
    )
    new_series = cur.rowcount == 1
    series_fk = conn.execute(
        "SELECT id FROM series WHERE series_uid = ?", (rec.series_uid,)
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO instance(series_fk, sop_uid, sop_class_uid, instance_number, "
        "transfer_syntax, rows, columns, frames, file_size, path, linked, received, "
        "image_position, image_orientation) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            series_fk,
            rec.sop_uid,
            rec.sop_class_uid,
            rec.instance_number,
            rec.transfer_syntax,
            rec.rows,
            rec.columns,
            rec.frames,
            rec.file_size,
            rel,
            int(linked),
            now,
            rec.image_position,
            rec.image_orientation,
        ),
    )
    conn.execute("UPDATE series SET num_instances = num_instances + 1 WHERE id = ?", (series_fk,))
    modalities = study["modalities"].split("\\") if study["modalities"] else []
    if rec.modality and rec.modality not in modalities:
        modalities.append(rec.modality)
    conn.execute(
        "UPDATE study SET num_instances = num_instances + 1, size_bytes = size_bytes + ?, "
        "num_series = num_series + ?, modalities = ?, received = ? WHERE id = ?",
        (rec.file_size, int(new_series), "\\".join(modalities), now, study["id"]),
    )
    return True
