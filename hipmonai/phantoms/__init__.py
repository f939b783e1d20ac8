"""Synthetic phantom cohorts: bilateral AP pelvis and PA knee radiographs written as a real user's data
(DICOM DX, BoneFinder ``.pts``, grades CSV) plus ground truth real data never has (lesion masks, latent severity).

Entry points: :func:`generate_hip_cohort` / :func:`generate_knee_cohort` write a cohort (CLI:
``hipmonai phantoms hip|knee``); :func:`render_hip_radiograph` / :func:`render_knee_radiograph` return one image
with its annotations in memory, at any pixel spacing.
"""

from __future__ import annotations

from hipmonai.io.lesion_masks import read_lesion_mask, write_lesion_mask
from hipmonai.phantoms.acquisition import Acquisition, AcquisitionParams
from hipmonai.phantoms.cohort import (
    DEFAULT_HIP_SUBJECTS,
    DEFAULT_KNEE_SUBJECTS,
    GENERATOR_VERSION,
    format_summary,
    generate_hip_cohort,
    generate_knee_cohort,
    image_paths,
    subject_id,
    visit_id,
)
from hipmonai.phantoms.dicom_writer import FakePatient, write_dx
from hipmonai.phantoms.hip import (
    HIP_NAMED_LANDMARKS,
    HipPhantom,
    HipPhantomParams,
    HipSubject,
    build_hip,
    draw_hip_subject,
    render_hip_radiograph,
)
from hipmonai.phantoms.knee import (
    KNEE_TARGET_LANDMARKS,
    KneePhantom,
    KneePhantomParams,
    KneeSubject,
    build_knee,
    draw_knee_subject,
    render_knee_radiograph,
)
from hipmonai.phantoms.seeding import image_seed, subject_seed
from hipmonai.phantoms.severity import (
    KNEE_TARGETS,
    HipGradeModel,
    HipSeverity,
    KneeGradeModel,
    KneeSeverity,
    grade_correlation,
    grade_distribution,
)
from hipmonai.phantoms.spurs import PhantomParams, SpurDraw

__all__ = [
    "DEFAULT_HIP_SUBJECTS",
    "DEFAULT_KNEE_SUBJECTS",
    "GENERATOR_VERSION",
    "HIP_NAMED_LANDMARKS",
    "KNEE_TARGETS",
    "KNEE_TARGET_LANDMARKS",
    "Acquisition",
    "AcquisitionParams",
    "FakePatient",
    "HipGradeModel",
    "HipPhantom",
    "HipPhantomParams",
    "HipSeverity",
    "HipSubject",
    "KneeGradeModel",
    "KneePhantom",
    "KneePhantomParams",
    "KneeSeverity",
    "KneeSubject",
    "PhantomParams",
    "SpurDraw",
    "build_hip",
    "build_knee",
    "draw_hip_subject",
    "draw_knee_subject",
    "format_summary",
    "generate_hip_cohort",
    "generate_knee_cohort",
    "grade_correlation",
    "grade_distribution",
    "image_paths",
    "image_seed",
    "read_lesion_mask",
    "render_hip_radiograph",
    "render_knee_radiograph",
    "subject_id",
    "subject_seed",
    "visit_id",
    "write_dx",
    "write_lesion_mask",
]
