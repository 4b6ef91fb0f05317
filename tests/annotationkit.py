"""Real annotation objects for tests: a small synthetic CT series, a SEG and a GSPS made with
highdicom over it, and an RTSTRUCT built by hand with pydicom (highdicom has no RTSTRUCT
builder). Every object is checked by dciodvfy in tests/unit/test_annotations.py."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

SIZE = 64
SLICES = 3
SPACING = (0.8, 0.7)
"""(between rows, between columns) in mm."""
THICKNESS = 2.0
ORIGIN = (-20.0, -30.0, 10.0)
WINDOW = (55.0, 321.0)
"""The GSPS's window (centre, width)."""
POLYLINE = ((10.0, 12.0), (40.0, 12.0), (40.0, 30.0))
"""The GSPS polyline in DICOM pixel coordinates (column, row)."""
CONTOUR_PIXELS = ((20.0, 20.0), (44.0, 20.0), (44.0, 40.0), (20.0, 40.0))
"""The RTSTRUCT contour on slice 1, in source pixels (x = column, y = row)."""
SEG_COLOUR_LAB = (65535, 49151, 32768)
"""The segment's colour as DICOM CIELab (a light red)."""


@dataclass
class Kit:
    """The files made, and the SEG's mask."""

    cts: list[Dataset]
    ct_paths: list[Path]
    seg: Path
    rtstruct: Path
    gsps: Path
    mask: np.ndarray
    """(SLICES, SIZE, SIZE) bool: the segment on each slice."""


def _ct(index: int, study: str, series: str, frame_of_ref: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = CTImageStorage
    ds.PatientName, ds.PatientID = "Annot^Test", "ANNOT1"
    ds.PatientBirthDate, ds.PatientSex = "19700101", "O"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240102"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "101010"
    ds.AccessionNumber, ds.StudyID, ds.ReferringPhysicianName = "A1", "1", ""
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, index + 1
    ds.Manufacturer = "tuipacs"
    ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame_of_ref, ""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PatientPosition, ds.BodyPartExamined = "HFS", "CHEST"
    ds.ImagePositionPatient = [ORIGIN[0], ORIGIN[1], ORIGIN[2] + THICKNESS * index]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = list(SPACING)
    ds.SliceThickness = THICKNESS
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = SIZE
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1024, 1, "HU"
    ds.KVP, ds.AcquisitionNumber = 120, 1
    ds.WindowCenter, ds.WindowWidth = 40, 400
    rng = np.random.default_rng(index)
    pixels = (1024 + rng.normal(0, 5, (SIZE, SIZE))).astype(np.int16)
    pixels[16:48, 16:48] += 100
    ds.PixelData = pixels.tobytes()
    return ds


def _seg(cts: list[Dataset], mask: np.ndarray) -> Dataset:
    description = hd.seg.SegmentDescription(
        segment_number=1,
        segment_label="lesion",
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        display_color=hd.color.CIELabColor(100.0, 64.0, 0.0),
    )
    return hd.seg.Segmentation(
        source_images=cts,
        pixel_array=mask.astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[description],
        series_instance_uid=generate_uid(),
        series_number=100,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="tuipacs",
        manufacturer_model_name="tests",
        software_versions="1",
        device_serial_number="1",
        omit_empty_frames=False,
    )


def _gsps(cts: list[Dataset]) -> Dataset:
    layer = hd.pr.GraphicLayer(layer_name="LAYER1", order=1)
    annotation = hd.pr.GraphicAnnotation(
        referenced_images=[cts[1]],
        graphic_layer=layer,
        graphic_objects=[
            hd.pr.GraphicObject(
                graphic_type=hd.pr.GraphicTypeValues.POLYLINE,
                graphic_data=np.asarray(POLYLINE),
                units=hd.pr.AnnotationUnitsValues.PIXEL,
            )
        ],
        text_objects=[
            hd.pr.TextObject(
                text_value="lesion",
                units=hd.pr.AnnotationUnitsValues.PIXEL,
                anchor_point=(12.0, 50.0),
            )
        ],
    )
    return hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=cts,
        series_instance_uid=generate_uid(),
        series_number=200,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="tuipacs",
        manufacturer_model_name="tests",
        software_versions="1",
        device_serial_number="1",
        content_label="TEST",
        graphic_layers=[layer],
        graphic_annotations=[annotation],
        voi_lut_transformations=[
            hd.pr.SoftcopyVOILUTTransformation(window_center=WINDOW[0], window_width=WINDOW[1])
        ],
    )


def contour_mm(ct: Dataset, points: tuple[tuple[float, float], ...]) -> list[float]:
    """Source pixels (x, y) of ``ct`` as patient mm (x, y, z flat), by hand."""
    x0, y0, z0 = (float(v) for v in ct.ImagePositionPatient)
    flat: list[float] = []
    for x, y in points:
        flat += [x0 + x * SPACING[1], y0 + y * SPACING[0], z0]
    return flat


def rtstruct(cts: list[Dataset], contour: list[float], colour: tuple[int, int, int]) -> Dataset:
    """An RT Structure Set with one ROI and one closed planar contour (patient mm)."""
    first = cts[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3"
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber",
                    "StudyID", "ReferringPhysicianName"):  # fmt: skip
        setattr(ds, keyword, getattr(first, keyword))
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "RTSTRUCT", generate_uid(), 300
    ds.Manufacturer, ds.OperatorsName = "tuipacs", ""
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = first.FrameOfReferenceUID, ""
    ds.StructureSetLabel = "TEST"
    today = datetime.date(2024, 1, 2).strftime("%Y%m%d")
    ds.StructureSetDate, ds.StructureSetTime = today, "101010"
    contour_images = Sequence()
    for ct in cts:
        item = Dataset()
        item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = (
            ct.SOPClassUID,
            ct.SOPInstanceUID,
        )
        contour_images.append(item)
    series = Dataset()
    series.SeriesInstanceUID = first.SeriesInstanceUID
    series.ContourImageSequence = contour_images
    study = Dataset()
    study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study.RTReferencedSeriesSequence = Sequence([series])
    frame = Dataset()
    frame.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame.RTReferencedStudySequence = Sequence([study])
    ds.ReferencedFrameOfReferenceSequence = Sequence([frame])
    roi = Dataset()
    roi.ROINumber, roi.ReferencedFrameOfReferenceUID = 1, first.FrameOfReferenceUID
    roi.ROIName, roi.ROIGenerationAlgorithm = "box", "MANUAL"
    ds.StructureSetROISequence = Sequence([roi])
    image = Dataset()
    image.ReferencedSOPClassUID, image.ReferencedSOPInstanceUID = (
        cts[1].SOPClassUID,
        cts[1].SOPInstanceUID,
    )
    item = Dataset()
    item.ContourImageSequence = Sequence([image])
    item.ContourGeometricType = "CLOSED_PLANAR"
    item.NumberOfContourPoints = len(contour) // 3
    item.ContourData = [round(v, 4) for v in contour]
    roi_contour = Dataset()
    roi_contour.ReferencedROINumber = 1
    roi_contour.ROIDisplayColor = list(colour)
    roi_contour.ContourSequence = Sequence([item])
    ds.ROIContourSequence = Sequence([roi_contour])
    observation = Dataset()
    observation.ObservationNumber, observation.ReferencedROINumber = 1, 1
    observation.RTROIInterpretedType, observation.ROIInterpreter = "ORGAN", ""
    ds.RTROIObservationsSequence = Sequence([observation])
    ds.ApprovalStatus = "UNAPPROVED"
    return ds


def write_cts(folder: Path) -> tuple[list[Dataset], list[Path]]:
    """The synthetic CT series (one study, series and frame of reference) written into
    ``folder``: its datasets and their files."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame_of_ref = generate_uid(), generate_uid(), generate_uid()
    cts = [_ct(i, study, series, frame_of_ref) for i in range(SLICES)]
    paths = []
    for i, ct in enumerate(cts):
        path = folder / f"ct{i}.dcm"
        ct.save_as(path, enforce_file_format=True)
        paths.append(path)
    return cts, paths


def make(folder: Path) -> Kit:
    """The CT series, SEG, RTSTRUCT and GSPS written into ``folder``."""
    cts, paths = write_cts(folder)
    mask = np.zeros((SLICES, SIZE, SIZE), dtype=bool)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    mask[1] = (yy - 30) ** 2 / 100 + (xx - 34) ** 2 / 196 <= 1  # an ellipse on slice 2
    mask[2, 5:9, 50:60] = True
    seg_path, rt_path, pr_path = folder / "seg.dcm", folder / "rt.dcm", folder / "pr.dcm"
    _seg(cts, mask).save_as(seg_path, enforce_file_format=True)
    rtstruct(cts, contour_mm(cts[1], CONTOUR_PIXELS), (0, 255, 255)).save_as(
        rt_path, enforce_file_format=True
    )
    gsps = _gsps(cts)
    gsps.BodyPartExamined = "CHEST"  # dciodvfy asks for Laterality without it
    gsps.save_as(pr_path, enforce_file_format=True)
    return Kit(cts, paths, seg_path, rt_path, pr_path, mask)


def rtstruct_with_points(cts: list[Dataset], count: int, path: Path) -> None:
    """An RTSTRUCT file whose one contour has ``count`` points on slice 2, written without
    holding them as numbers: the file is saved with a small contour (sequences and items of
    undefined length), then its ContourData bytes are replaced by ``count`` copies of one
    point's text (a 10^6 point list as pydicom values takes over a GiB)."""
    small = contour_mm(cts[1], CONTOUR_PIXELS)
    ds = rtstruct(cts, small, (255, 0, 0))
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds["ROIContourSequence"].is_undefined_length = True
    for roi in ds.ROIContourSequence:
        roi.is_undefined_length_sequence_item = True
        roi["ContourSequence"].is_undefined_length = True
        for item in roi.ContourSequence:
            item.is_undefined_length_sequence_item = True
            item.NumberOfContourPoints = min(count, 2**31 - 1)
    ds.save_as(path, enforce_file_format=True)
    data = path.read_bytes()
    tag = b"\x06\x30\x50\x00"  # (3006,0050) Contour Data, implicit VR little endian
    at = data.index(tag)
    length = int.from_bytes(data[at + 4 : at + 8], "little")
    point = "\\".join(f"{v:g}" for v in small[:3]).encode("ascii")
    value = b"\\".join([point] * count)
    value += b" " * (len(value) % 2)
    head = tag + len(value).to_bytes(4, "little")
    path.write_bytes(data[:at] + head + value + data[at + 8 + length :])
