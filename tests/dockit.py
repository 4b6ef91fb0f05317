"""Real document objects for the SR / PDF / CDA tests (not a test module): a TID 1500
measurement report made with highdicom on pydicom's CT test image, an Encapsulated PDF made
with pypdfium2 and pydicom, a CDA document, and dcmdump's view of a file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

PDF_CLASS = "1.2.840.10008.5.1.4.1.1.104.1"
CDA_CLASS = "1.2.840.10008.5.1.4.1.1.104.2"
SEED_UID = "1.2.826.0.1.3680043.8.498."


def ct_image() -> Dataset:
    """pydicom's CT_small.dcm (a real CT image, 128 x 128)."""
    return dcmread(get_testdata_file("CT_small.dcm"))


def measurement_report(ct: Dataset, length_mm: float = 12.5, area: float = 40.0) -> Dataset:
    """A TID 1500 Measurement Report (Comprehensive 3D SR) made by highdicom: one planar ROI
    (a POLYLINE on ``ct``) with a length and an area, and a point measurement."""
    import highdicom as hd
    from highdicom.sr import (
        Comprehensive3DSR,
        GraphicTypeValues,
        ImageRegion,
        Measurement,
        MeasurementReport,
        ObservationContext,
        ObserverContext,
        PersonObserverIdentifyingAttributes,
        PlanarROIMeasurementsAndQualitativeEvaluations,
        SourceImageForRegion,
        TrackingIdentifier,
    )
    from pydicom.sr.codedict import codes

    source = SourceImageForRegion.from_source_image(ct)
    region = ImageRegion(
        graphic_type=GraphicTypeValues.POLYLINE,
        graphic_data=np.array([[10.0, 20.0], [60.0, 20.0], [60.0, 70.0], [10.0, 20.0]]),
        source_image=source,
    )
    measurements = [
        Measurement(
            name=codes.SCT.Length,
            value=length_mm,
            unit=codes.UCUM.Millimeter,
        ),
        Measurement(
            name=codes.SCT.Area,
            value=area,
            unit=hd.sr.CodedConcept("mm2", "UCUM", "square millimeter"),
        ),
    ]
    group = PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=generate_uid(SEED_UID), identifier="ROI 1"),
        referenced_region=region,
        finding_type=codes.SCT.Lesion,
        measurements=measurements,
    )
    observer = ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=PersonObserverIdentifyingAttributes(name="Reader^Test"),
    )
    report = MeasurementReport(
        observation_context=ObservationContext(observer_person_context=observer),
        procedure_reported=codes.LN.CTUnspecifiedBodyRegion,
        imaging_measurements=[group],
    )
    sr = Comprehensive3DSR(
        evidence=[ct],
        content=report,
        series_number=99,
        series_instance_uid=generate_uid(SEED_UID),
        sop_instance_uid=generate_uid(SEED_UID),
        instance_number=1,
        manufacturer="tuipacs tests",
        is_complete=True,
        is_final=False,
    )
    return sr


def tiny_pdf(pages: int = 2, size: tuple[float, float] = (200.0, 120.0)) -> bytes:
    """A PDF of ``pages`` pages, each with a filled black rectangle (not blank), made with
    pypdfium2's page objects."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    pdf = pdfium.PdfDocument.new()
    for number in range(pages):
        page = pdf.new_page(*size)
        path = raw.FPDFPageObj_CreateNewRect(20 + 10 * number, 20, 60, 40)
        raw.FPDFPageObj_SetFillColor(path, 0, 0, 0, 255)
        raw.FPDFPath_SetDrawMode(path, raw.FPDF_FILLMODE_ALTERNATE, False)
        raw.FPDFPage_InsertObject(page.raw, path)
        page.gen_content()
    out = bytearray()

    class _Sink:
        def write(self, data: bytes) -> int:
            out.extend(data)
            return len(data)

    pdf.save(_Sink())
    return bytes(out)


def _document_dataset(sop_class: str, mime: str, document: bytes, study: Dataset) -> Dataset:
    """An Encapsulated Document instance in ``study`` (patient and study from ``study``)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    uid = generate_uid(SEED_UID)
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, uid
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "StudyInstanceUID", "StudyDate", "StudyTime", "StudyID",
                    "AccessionNumber", "ReferringPhysicianName"):  # fmt: skip
        setattr(ds, keyword, study.get(keyword, ""))
    ds.Modality = "DOC"
    ds.Manufacturer = "tuipacs tests"
    ds.SeriesInstanceUID = generate_uid(SEED_UID)
    ds.SeriesNumber = 50
    ds.InstanceNumber = 1
    ds.ContentDate, ds.ContentTime, ds.AcquisitionDateTime = "20240115", "101500", ""
    ds.ConversionType = "WSD"
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = "Report"
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = mime
    ds.EncapsulatedDocument = document + (b"\0" if len(document) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(document)
    return ds


def pdf_dataset(document: bytes, study: Dataset) -> Dataset:
    """An Encapsulated PDF instance holding ``document``."""
    return _document_dataset(PDF_CLASS, "application/pdf", document, study)


CDA_TEXT = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <title>Radiology Report</title>
  <component><structuredBody><component><section>
    <title>Findings</title>
    <text><paragraph>A 12 mm nodule in the right upper lobe.</paragraph></text>
  </section></component></structuredBody></component>
</ClinicalDocument>
"""


def cda_dataset(xml: str, study: Dataset) -> Dataset:
    """An Encapsulated CDA instance holding ``xml``."""
    ds = _document_dataset(CDA_CLASS, "text/XML", xml.encode(), study)
    ds.HL7InstanceIdentifier = "2.25.1234567^report"
    return ds


def dcmdump_lines(path: Path, dcmdump: str) -> list[str]:
    """dcmdump's full dump of ``path`` (long values in full), one line per element."""
    result = subprocess.run(
        [dcmdump, "+L", "+U8", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        check=True,
    )
    return result.stdout.splitlines()
