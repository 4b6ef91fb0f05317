"""The demo series: each yields (relative path, dataset) pairs ready to write as Part-10 files.

One dataset object per series is reused: only the per-instance attributes and the pixel data
change between files, so headers cost little and the pixel phantoms dominate the time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag
from pydicom.uid import (
    UID,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    MRImageStorage,
    UltrasoundMultiFrameImageStorage,
)

from tuipacs.demo import ct as demo_ct
from tuipacs.demo import dx as demo_dx
from tuipacs.demo import mr as demo_mr
from tuipacs.demo import us as demo_us
from tuipacs.demo.headers import (
    CT_PRIOR_STUDY,
    CT_STUDY,
    DX_STUDY,
    MR_STUDY,
    US_STUDY,
    Equipment,
    SeriesInfo,
    Study,
    base_dataset,
    ds,
    ds_list,
    file_meta,
    set_instance,
    uid,
)

Instance = tuple[PurePosixPath, Dataset]
AXIAL = ["1", "0", "0", "0", "1", "0"]
MR_SERIES = 2
PRIOR_TABLE_SHIFT_MM = 62.5
"""How much higher the prior CT's z values are than the current one's for the same anatomy."""
PRIOR_NODULE_MM = 7.0
PRIOR_NOISE_SEED = 20230315


def ct_file_count(ct_slices: int) -> int:
    """Files the CT series writes."""
    return ct_slices


def other_file_count() -> int:
    """Files the MR, DX and US series write together."""
    return MR_SERIES * demo_mr.SLICES + 2


def _folder(study: Study, series_number: int) -> PurePosixPath:
    """Folder of a series: ``<study key>-<date>/series-<number>``."""
    return PurePosixPath(f"{study.key}-{study.date}", f"series-{series_number:03d}")


def _series(
    study: Study, study_uid: UID, number: int, modality: str, description: str, sop: UID
) -> SeriesInfo:
    """Series values with per-modality demo equipment and body part."""
    equipment = Equipment(f"Demo {modality} phantom", f"DEMO{modality}01", f"{modality}-0001")
    body = {"CT": "CHEST", "MR": "HEAD", "DX": "CHEST", "US": "HEART"}[modality]
    return SeriesInfo(study, study_uid, number, modality, description, sop, equipment, body)


def _grey_pixels(dataset: Dataset, rows: int, cols: int, bits_stored: int) -> None:
    """Image Pixel module of unsigned 16-bit greyscale (MONOCHROME2 unless changed)."""
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.Rows, dataset.Columns = rows, cols
    dataset.BitsAllocated = 16
    dataset.BitsStored = bits_stored
    dataset.HighBit = bits_stored - 1
    dataset.PixelRepresentation = 0


# --- CT -------------------------------------------------------------------------------------


def ct_instances(ct_slices: int) -> Iterator[Instance]:
    """The contrast CT of the chest and abdomen: ``ct_slices`` contiguous axial slices."""
    study_uid = uid(CT_STUDY.key, "slices", ct_slices)
    yield from _ct_series(CT_STUDY, study_uid, ct_slices, demo_ct.CtPhantom(), 0.0)


def ct_prior_slices(ct_slices: int) -> int:
    """Slices of the prior CT: about two thirds of the current one's (at least one)."""
    return (2 * ct_slices + 1) // 3


def ct_prior_instances(ct_slices: int) -> Iterator[Instance]:
    """The same CT a year earlier (``demo --prior``): the same anatomy range in fewer, thicker
    slices, its own frame of reference (the table elsewhere: every z higher by
    PRIOR_TABLE_SHIFT_MM), its own noise and a smaller nodule."""
    slices = ct_prior_slices(ct_slices)
    study_uid = uid(CT_PRIOR_STUDY.key, "slices", slices)
    phantom = demo_ct.CtPhantom(nodule_mm=PRIOR_NODULE_MM, noise_seed=PRIOR_NOISE_SEED)
    yield from _ct_series(CT_PRIOR_STUDY, study_uid, slices, phantom, PRIOR_TABLE_SHIFT_MM)


def _ct_series(
    study: Study, study_uid: UID, slices: int, phantom: demo_ct.CtPhantom, shift: float
) -> Iterator[Instance]:
    """``slices`` contiguous axial slices over the phantom's extent, at z + ``shift`` in the
    series' frame of reference."""
    series = _series(study, study_uid, 2, "CT", "Thorax/Abdomen axial KM", CTImageStorage)
    dataset = base_dataset(series, "")
    dataset.file_meta = file_meta(CTImageStorage)
    spacing = demo_ct.EXTENT_MM / slices
    _ct_modules(dataset, study_uid, spacing)
    origin = float(phantom.grid.x[0]), float(phantom.grid.y[0])
    folder = _folder(study, series.number)
    for index in range(slices):
        anatomy = -(index + 0.5) * spacing
        z = anatomy + shift
        set_instance(dataset, uid(dataset.SeriesInstanceUID, index + 1), index + 1)
        dataset.ImagePositionPatient = ds_list([origin[0], origin[1], z])
        dataset.SliceLocation = ds(z)
        dataset.PixelData = phantom.stored_slice(anatomy, index).tobytes()
        yield folder / f"CT{index + 1:04d}.dcm", dataset


def _ct_modules(dataset: Dataset, study_uid: UID, spacing: float) -> None:
    """Frame of reference, image plane, CT image, contrast and VOI LUT modules."""
    dataset.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    dataset.FrameOfReferenceUID = uid(study_uid, "frame")
    dataset.PositionReferenceIndicator = ""
    dataset.PatientPosition = "FFS"
    _grey_pixels(dataset, demo_ct.SIZE, demo_ct.SIZE, 12)
    dataset.PixelSpacing = ds_list([demo_ct.SPACING_MM, demo_ct.SPACING_MM])
    dataset.ImageOrientationPatient = AXIAL
    dataset.SliceThickness = ds(spacing)
    dataset.RescaleIntercept, dataset.RescaleSlope, dataset.RescaleType = "-1024", "1", "HU"
    dataset.WindowCenter = ["40", "-600"]
    dataset.WindowWidth = ["400", "1500"]
    dataset.WindowCenterWidthExplanation = ["SOFT TISSUE", "LUNG"]
    dataset.ContrastBolusAgent = "Iomeprol 350 mgI/ml"
    dataset.ContrastBolusRoute = "IV"
    dataset.ContrastBolusVolume = "90"
    dataset.KVP = "120"
    dataset.DataCollectionDiameter = "500"
    dataset.ReconstructionDiameter = ds(demo_ct.FOV_MM)
    dataset.DistanceSourceToDetector = "1085.6"
    dataset.DistanceSourceToPatient = "595"
    dataset.GantryDetectorTilt = "0"
    dataset.TableHeight = "160"
    dataset.RotationDirection = "CW"
    dataset.ExposureTime = "500"
    dataset.XRayTubeCurrent = 180
    dataset.Exposure = 90
    dataset.FilterType = "FLAT"
    dataset.GeneratorPower = 22
    dataset.FocalSpots = "1.2"
    dataset.ConvolutionKernel = "SOFT"
    dataset.RevolutionTime = 0.5
    dataset.SingleCollimationWidth = 0.6
    dataset.TotalCollimationWidth = 38.4
    dataset.SpiralPitchFactor = 1.0
    dataset.BurnedInAnnotation = "NO"


# --- MR -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _MrProtocol:
    """Acquisition parameters that differ between the T1 and T2 series."""

    weighting: demo_mr.Weighting
    number: int
    description: str
    sequence: str
    variant: list[str]
    tr: str
    te: str
    train: int
    flip: str
    window: tuple[str, str]


MR_PROTOCOLS = (
    _MrProtocol("T1", 2, "T1 SE axial", "se2d1", ["NONE"], "550", "12", 1, "90", ("450", "900")),
    _MrProtocol(
        "T2", 3, "T2 TSE axial", "tse2d1_15", ["SK", "SP"], "4500", "98", 15, "150", ("700", "1400")
    ),
)


def mr_instances() -> Iterator[Instance]:
    """The head MR: a T1 and a T2 axial series over the same slice positions."""
    study_uid = uid(MR_STUDY.key)
    labels = demo_mr.label_volume()
    positions = demo_mr.slice_positions()
    origin = -(demo_mr.SIZE - 1) / 2 * demo_mr.SPACING_MM
    for protocol in MR_PROTOCOLS:
        series = _series(
            MR_STUDY, study_uid, protocol.number, "MR", protocol.description, MRImageStorage
        )
        dataset = base_dataset(series, "")
        dataset.file_meta = file_meta(MRImageStorage)
        _mr_modules(dataset, study_uid, protocol)
        volume = demo_mr.render(labels, protocol.weighting)
        folder = _folder(MR_STUDY, series.number)
        for index, z in enumerate(positions):
            set_instance(dataset, uid(dataset.SeriesInstanceUID, index + 1), index + 1)
            dataset.ImagePositionPatient = ds_list([origin, origin, z])
            dataset.SliceLocation = ds(z)
            dataset.PixelData = volume[index].tobytes()
            yield folder / f"MR{index + 1:04d}.dcm", dataset


def _mr_modules(dataset: Dataset, study_uid: UID, protocol: _MrProtocol) -> None:
    """Frame of reference, image plane, MR image and VOI LUT modules."""
    dataset.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    dataset.FrameOfReferenceUID = uid(study_uid, "frame")
    dataset.PositionReferenceIndicator = ""
    dataset.PatientPosition = "HFS"
    _grey_pixels(dataset, demo_mr.SIZE, demo_mr.SIZE, 12)
    dataset.PixelSpacing = ds_list([demo_mr.SPACING_MM, demo_mr.SPACING_MM])
    dataset.ImageOrientationPatient = AXIAL
    dataset.SliceThickness = ds(demo_mr.THICKNESS_MM)
    dataset.SpacingBetweenSlices = ds(demo_mr.SLICE_GAP_MM)
    dataset.WindowCenter, dataset.WindowWidth = protocol.window
    dataset.ScanningSequence = "SE"
    dataset.SequenceVariant = protocol.variant
    dataset.ScanOptions = ""
    dataset.MRAcquisitionType = "2D"
    dataset.SequenceName = protocol.sequence
    dataset.AngioFlag = "N"
    dataset.RepetitionTime, dataset.EchoTime = protocol.tr, protocol.te
    dataset.EchoTrainLength = protocol.train
    dataset.NumberOfAverages = "1"
    dataset.ImagingFrequency = "63.677"
    dataset.ImagedNucleus = "1H"
    dataset.EchoNumbers = "1"
    dataset.MagneticFieldStrength = "1.5"
    dataset.PercentSampling = "100"
    dataset.PercentPhaseFieldOfView = "100"
    dataset.PixelBandwidth = "150"
    dataset.ReceiveCoilName = "Head 16"
    dataset.TransmitCoilName = "Body"
    dataset.AcquisitionMatrix = [0, demo_mr.SIZE, demo_mr.SIZE, 0]
    dataset.InPlanePhaseEncodingDirection = "ROW"
    dataset.FlipAngle = protocol.flip
    dataset.BurnedInAnnotation = "NO"


# --- DX -------------------------------------------------------------------------------------


def dx_instances() -> Iterator[Instance]:
    """One PA chest radiograph, DX for presentation, MONOCHROME1 with an INVERSE LUT."""
    study_uid = uid(DX_STUDY.key)
    sop = DigitalXRayImageStorageForPresentation
    series = _series(DX_STUDY, study_uid, 1, "DX", "Thorax p.a.", sop)
    dataset = base_dataset(series, "")
    dataset.file_meta = file_meta(sop)
    _dx_modules(dataset)
    set_instance(dataset, uid(dataset.SeriesInstanceUID, 1), 1)
    dataset.PixelData = demo_dx.chest().tobytes()
    yield _folder(DX_STUDY, series.number) / "DX0001.dcm", dataset


def _dx_modules(dataset: Dataset) -> None:
    """DX series, anatomy, image, detector, positioning and acquisition context modules."""
    _grey_pixels(dataset, demo_dx.SIZE, demo_dx.SIZE, 12)
    dataset.PhotometricInterpretation = "MONOCHROME1"
    dataset.PresentationLUTShape = "INVERSE"
    dataset.PresentationIntentType = "FOR PRESENTATION"
    dataset.PixelIntensityRelationship = "LOG"
    dataset.PixelIntensityRelationshipSign = 1
    dataset.RescaleIntercept, dataset.RescaleSlope, dataset.RescaleType = "0", "1", "US"
    dataset.WindowCenter, dataset.WindowWidth = "2150", "3700"
    dataset.LossyImageCompression = "00"
    dataset.BurnedInAnnotation = "NO"
    dataset.ImageLaterality = "U"
    dataset.PatientOrientation = ["L", "F"]
    dataset.ViewPosition = "PA"
    dataset.PositionerType = "NONE"
    dataset.ImagerPixelSpacing = ds_list([demo_dx.SPACING_MM, demo_dx.SPACING_MM])
    dataset.DetectorType = "SCINTILLATOR"
    dataset.DetectorConfiguration = "AREA"
    dataset.KVP = "125"
    dataset.ExposureTime = "8"
    dataset.XRayTubeCurrent = 320
    dataset.DistanceSourceToDetector = "1800"
    dataset.DistanceSourceToPatient = "1650"
    dataset.AcquisitionContextSequence = Sequence()
    dataset.AnatomicRegionSequence = Sequence([_code("43799004", "SCT", "Chest")])
    dataset.ViewCodeSequence = Sequence([_code("399348003", "SCT", "postero-anterior")])


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    """A code sequence item."""
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


# --- US -------------------------------------------------------------------------------------


def us_instances() -> Iterator[Instance]:
    """One RGB multi-frame echocardiography cine with colour Doppler."""
    study_uid = uid(US_STUDY.key)
    sop = UltrasoundMultiFrameImageStorage
    series = _series(US_STUDY, study_uid, 1, "US", "Apical 4 cámaras", sop)
    dataset = base_dataset(series, "")
    dataset.file_meta = file_meta(sop)
    _us_modules(dataset)
    set_instance(dataset, uid(dataset.SeriesInstanceUID, 1), 1)
    cine = demo_us.EchoCine()
    dataset.PixelData = b"".join(cine.frame(k).tobytes() for k in range(demo_us.FRAMES))
    yield _folder(US_STUDY, series.number) / "US0001.dcm", dataset


def _us_modules(dataset: Dataset) -> None:
    """US image, cine, multi-frame and region calibration modules (RGB, by pixel)."""
    dataset.ImageType = ["ORIGINAL", "PRIMARY", "CHEST", "0011"]
    dataset.SamplesPerPixel = 3
    dataset.PhotometricInterpretation = "RGB"
    dataset.PlanarConfiguration = 0
    dataset.Rows, dataset.Columns = demo_us.ROWS, demo_us.COLS
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    dataset.PixelRepresentation = 0
    dataset.NumberOfFrames = demo_us.FRAMES
    dataset.FrameIncrementPointer = Tag("FrameTime")
    dataset.FrameTime = "40"
    dataset.CineRate = 25
    dataset.RecommendedDisplayFrameRate = 25
    dataset.PreferredPlaybackSequencing = 0
    dataset.HeartRate = 50
    dataset.LossyImageCompression = "00"
    dataset.BurnedInAnnotation = "NO"
    dataset.PatientOrientation = ""
    dataset.TransducerData = ["P4-2", "", ""]
    dataset.SequenceOfUltrasoundRegions = Sequence(
        [_us_region(demo_us.sector_box(), 1), _us_region(demo_us.DOPPLER_BOX, 2)]
    )


def _us_region(box: tuple[int, int, int, int], data_type: int) -> Dataset:
    """A 2D ultrasound region (1 tissue, 2 colour flow) with its pixel size in cm."""
    region = Dataset()
    region.RegionSpatialFormat = 1
    region.RegionDataType = data_type
    region.RegionFlags = 0
    left, top, right, bottom = box
    region.RegionLocationMinX0, region.RegionLocationMinY0 = left, top
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = right, bottom
    region.ReferencePixelX0, region.ReferencePixelY0 = demo_us.APEX[1], demo_us.APEX[0]
    region.ReferencePixelPhysicalValueX = region.ReferencePixelPhysicalValueY = 0.0
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX = region.PhysicalDeltaY = demo_us.MM_PER_PIXEL / 10
    return region
