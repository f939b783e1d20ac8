"""Latent severity and osteophyte grades of the phantom cohorts, without any rendering.

Hip: every hip has a latent severity ``s`` (standard normal over the population; the two hips of a subject share
part of it). The four target zones (``TARGETS`` order) read ``s`` through a liability model

    z_k = a_k * s + b_k * g_{compartment(k)} + c_k * e_k,   c_k = sqrt(1 - a_k^2 - b_k^2)

with a femoral and an acetabular compartment factor ``g`` and independent ``e``; grade ``k`` is the number of
thresholds ``z_k`` exceeds, thresholds set from each zone's prevalence. The grade correlations this gives
between zones (about 0.33-0.40 with the defaults, the pattern of Chen et al. Table 2) follow from the loadings.
Severity also narrows the joint space. Later visits add a non-negative progression to ``s`` with the zone
terms fixed, so grades never regress.

Knee: a latent severity per knee gives a KL-like grade 0-4 by thresholds; osteophytes at the four joint margins
and the joint-space narrowing follow the KL grade as in the Kellgren-Lawrence definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtri

from hipmonai.io.landmark_groups import TARGETS

SIDES = ("right", "left")
KNEE_TARGETS = ("osteo_tib_lat", "osteo_tib_med", "osteo_fem_lat", "osteo_fem_med")
_COMPARTMENT = {"osteo_fem_sup": 0, "osteo_fem_inf": 0, "osteo_acet_sup": 1, "osteo_acet_inf": 1}


def _check_fraction(name: str, value: float, low: float = 0.0, high: float = 1.0) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value}.")


@dataclass(frozen=True)
class HipGradeModel:
    """Parameters of the hip severity -> grade model (defaults calibrated to Chen et al. Table 2).

    Attributes:
        loadings: ``a_k`` per target (``TARGETS`` order): how strongly each zone follows the hip's severity.
        compartment_loadings: ``b_k`` per target: shared femoral / acetabular factor.
        prevalence: fraction of hips with grade > 0 per target (at the first visit).
        grade_tail: fractions of hips with grade >= 2 and >= 3, relative to ``prevalence``.
        bilateral_correlation: correlation of the two hips' severities within a subject.
        progression_per_visit: mean severity increase per visit (half-normal spread, never negative).
        joint_space_mm: range of a healthy hip's superior joint space.
        narrowing_mm: joint-space loss per unit of severity above ``narrowing_onset``.
        narrowing_onset: severity where narrowing starts (soft onset).
        min_joint_space_mm: floor of the joint space.
    """

    loadings: tuple[float, float, float, float] = (0.71, 0.70, 0.71, 0.70)
    compartment_loadings: tuple[float, float, float, float] = (0.22, 0.22, 0.21, 0.21)
    prevalence: tuple[float, float, float, float] = (0.30, 0.22, 0.35, 0.20)
    grade_tail: tuple[float, float] = (0.45, 0.15)
    bilateral_correlation: float = 0.5
    progression_per_visit: float = 0.25
    joint_space_mm: tuple[float, float] = (3.8, 5.0)
    narrowing_mm: float = 1.3
    narrowing_onset: float = 0.0
    min_joint_space_mm: float = 0.6

    def __post_init__(self) -> None:
        for name in ("loadings", "compartment_loadings", "prevalence"):
            if len(getattr(self, name)) != len(TARGETS):
                raise ValueError(
                    f"{name} needs {len(TARGETS)} values ({', '.join(TARGETS)}), got {getattr(self, name)}."
                )
        for a, b, t in zip(self.loadings, self.compartment_loadings, TARGETS, strict=True):
            if a < 0 or b < 0 or a * a + b * b >= 1:
                raise ValueError(f"loadings of {t} need a, b >= 0 and a^2 + b^2 < 1, got a={a}, b={b}.")
        for p, t in zip(self.prevalence, TARGETS, strict=True):
            if not 0 < p < 1:
                raise ValueError(f"prevalence of {t} must lie in (0, 1), got {p}.")
        if not 1 >= self.grade_tail[0] >= self.grade_tail[1] > 0:
            raise ValueError(f"grade_tail must satisfy 1 >= f2 >= f3 > 0, got {self.grade_tail}.")
        _check_fraction("bilateral_correlation", self.bilateral_correlation)
        if self.progression_per_visit < 0:
            raise ValueError(f"progression_per_visit must be >= 0, got {self.progression_per_visit}.")
        lo, hi = self.joint_space_mm
        if not 0 < self.min_joint_space_mm <= lo <= hi:
            raise ValueError(
                f"need 0 < min_joint_space_mm <= joint_space_mm[0] <= joint_space_mm[1], got "
                f"{self.min_joint_space_mm} and {self.joint_space_mm}."
            )

    def thresholds(self) -> np.ndarray:
        """``(4, 3)`` liability thresholds for grades >= 1, >= 2, >= 3 per target."""
        prev = np.asarray(self.prevalence)[:, None]
        frac = np.array([1.0, *self.grade_tail])[None, :]
        return ndtri(1.0 - prev * frac)

    def sample(self, rng: np.random.Generator, n_subjects: int, n_visits: int = 1) -> HipSeverity:
        """Draw severities and grades of ``n_subjects`` subjects x ``n_visits`` visits x 2 hips.

        The draw for a subject uses the generator in a fixed order, so ``sample(rng, 1, V)`` per subject with a
        per-subject generator is how the cohort uses it; the distribution is the same as one vectorised call.
        """
        if n_subjects < 1 or n_visits < 1:
            raise ValueError(f"n_subjects and n_visits must be >= 1, got {n_subjects} and {n_visits}.")
        n_t = len(TARGETS)
        rho = self.bilateral_correlation
        shared = rng.standard_normal((n_subjects, 1))
        own = rng.standard_normal((n_subjects, 2))
        base = np.sqrt(rho) * shared + np.sqrt(1.0 - rho) * own  # (S, 2)
        compartment = rng.standard_normal((n_subjects, 2, 2))  # (S, side, compartment)
        unique = rng.standard_normal((n_subjects, 2, n_t))
        rate = self.progression_per_visit * np.abs(rng.standard_normal((n_subjects, 2))) * np.sqrt(np.pi / 2)
        healthy_js = rng.uniform(*self.joint_space_mm, size=(n_subjects, 2))
        visits = np.arange(n_visits)[None, :, None]
        severity = base[:, None, :] + rate[:, None, :] * visits  # (S, V, 2)

        a = np.asarray(self.loadings)
        b = np.asarray(self.compartment_loadings)
        c = np.sqrt(1.0 - a**2 - b**2)
        comp = np.array([_COMPARTMENT[t] for t in TARGETS])
        fixed = b * compartment[:, :, comp] + c * unique  # (S, 2, 4)
        liability = a * severity[..., None] + fixed[:, None, :, :]  # (S, V, 2, 4)
        grades = (liability[..., None] > self.thresholds()).sum(axis=-1).astype(np.int8)
        return HipSeverity(severity=severity, grades=grades, joint_space_mm=self.joint_space(severity, healthy_js))

    def joint_space(self, severity: np.ndarray, healthy_mm: np.ndarray) -> np.ndarray:
        """Superior joint space (mm): ``healthy - narrowing * softplus(severity - onset)``, floored.

        Args:
            severity: ``(S, V, 2)`` latent severity.
            healthy_mm: ``(S, 2)`` healthy joint space per hip.
        """
        soft = np.logaddexp(0.0, 1.5 * (severity - self.narrowing_onset)) / 1.5
        js = healthy_mm[:, None, :] - self.narrowing_mm * soft
        return np.maximum(js, self.min_joint_space_mm)


@dataclass(frozen=True)
class HipSeverity:
    """Draws of :meth:`HipGradeModel.sample`.

    Attributes:
        severity: ``(S, V, 2)`` latent severity per subject, visit and side (right, left).
        grades: ``(S, V, 2, 4)`` int8 grades 0-3 in ``TARGETS`` order.
        joint_space_mm: ``(S, V, 2)`` superior joint space.
    """

    severity: np.ndarray
    grades: np.ndarray
    joint_space_mm: np.ndarray


@dataclass(frozen=True)
class KneeGradeModel:
    """Parameters of the knee severity -> KL grade model.

    Attributes:
        kl_distribution: population fraction of KL 0..4 (at the first visit).
        bilateral_correlation: correlation of the two knees' severities within a subject.
        progression_per_visit: mean severity increase per visit (half-normal spread).
        joint_space_mm: healthy (medial, lateral) joint-space ranges.
        narrowing_by_kl: fraction of the medial joint space lost at KL 0..4 (lateral loses 40 % of it).
    """

    kl_distribution: tuple[float, float, float, float, float] = (0.36, 0.22, 0.2, 0.14, 0.08)
    bilateral_correlation: float = 0.6
    progression_per_visit: float = 0.25
    joint_space_mm: tuple[tuple[float, float], tuple[float, float]] = ((4.5, 6.0), (5.5, 7.0))
    narrowing_by_kl: tuple[float, float, float, float, float] = (0.0, 0.1, 0.25, 0.5, 0.8)
    spur_count_by_kl: tuple[tuple[int, int], ...] = field(default=((0, 0), (0, 1), (1, 2), (2, 4), (3, 4)))

    def __post_init__(self) -> None:
        if (
            len(self.kl_distribution) != 5
            or abs(sum(self.kl_distribution) - 1) > 1e-6
            or min(self.kl_distribution) <= 0
        ):
            raise ValueError(f"kl_distribution needs 5 positive fractions summing to 1, got {self.kl_distribution}.")
        _check_fraction("bilateral_correlation", self.bilateral_correlation)
        if self.progression_per_visit < 0:
            raise ValueError(f"progression_per_visit must be >= 0, got {self.progression_per_visit}.")
        if len(self.narrowing_by_kl) != 5 or not all(0 <= f < 1 for f in self.narrowing_by_kl):
            raise ValueError(f"narrowing_by_kl needs 5 fractions in [0, 1), got {self.narrowing_by_kl}.")

    def thresholds(self) -> np.ndarray:
        """``(4,)`` severity thresholds for KL >= 1 .. >= 4."""
        return ndtri(np.cumsum(self.kl_distribution)[:-1])

    def sample(self, rng: np.random.Generator, n_subjects: int, n_visits: int = 1) -> KneeSeverity:
        """Draw severities, KL grades, per-margin osteophyte grades and joint spaces.

        Osteophytes: KL 0 none; KL 1 at most one doubtful (grade 1); KL 2 one or two definite; KL 3 several,
        up to grade 2; KL 4 several, grades 2-3 — medial margins preferred. The margins and their order of
        growth are fixed per knee, so later visits only add or enlarge spurs.
        """
        if n_subjects < 1 or n_visits < 1:
            raise ValueError(f"n_subjects and n_visits must be >= 1, got {n_subjects} and {n_visits}.")
        rho = self.bilateral_correlation
        shared = rng.standard_normal((n_subjects, 1))
        own = rng.standard_normal((n_subjects, 2))
        base = np.sqrt(rho) * shared + np.sqrt(1.0 - rho) * own
        rate = self.progression_per_visit * np.abs(rng.standard_normal((n_subjects, 2))) * np.sqrt(np.pi / 2)
        # margin order: medial margins first on average (weights), a fixed random order per knee
        weights = np.array([0.8, 1.4, 0.8, 1.2])
        keys = rng.exponential(size=(n_subjects, 2, 4)) / weights
        order = np.argsort(keys, axis=-1)
        counts_u = rng.uniform(size=(n_subjects, 2))
        size_u = rng.uniform(size=(n_subjects, 2, 4))
        healthy = np.stack(
            [
                rng.uniform(*self.joint_space_mm[0], size=(n_subjects, 2)),
                rng.uniform(*self.joint_space_mm[1], size=(n_subjects, 2)),
            ],
            axis=-1,
        )  # (S, 2, [medial, lateral])

        severity = base[:, None, :] + rate[:, None, :] * np.arange(n_visits)[None, :, None]  # (S, V, 2)
        kl = np.searchsorted(self.thresholds(), severity).astype(np.int8)
        lo = np.array([c[0] for c in self.spur_count_by_kl])[kl]
        hi = np.array([c[1] for c in self.spur_count_by_kl])[kl]
        n_spurs = lo + np.floor(counts_u[:, None, :] * (hi - lo + 1)).astype(int)
        n_spurs = np.minimum(n_spurs, hi)
        max_grade = np.array([0, 1, 2, 2, 3])[kl]
        min_grade = np.array([0, 1, 1, 1, 2])[kl]
        rank = np.argsort(order, axis=-1)  # rank of each margin in the knee's order
        osteo = np.zeros((n_subjects, n_visits, 2, 4), dtype=np.int8)
        active = rank[:, None, :, :] < n_spurs[..., None]
        size = min_grade[..., None] + np.floor(size_u[:, None] * (max_grade - min_grade + 1)[..., None])
        size = np.minimum(size, max_grade[..., None])
        osteo[active] = size[active].astype(np.int8)
        # never shrink over visits
        osteo = np.maximum.accumulate(osteo, axis=1)
        loss = np.asarray(self.narrowing_by_kl)[kl]  # (S, V, 2)
        js = healthy[:, None, :, :] * (1.0 - loss[..., None] * np.array([1.0, 0.4]))
        return KneeSeverity(severity=severity, kl=kl, osteophytes=osteo, joint_space_mm=js)


@dataclass(frozen=True)
class KneeSeverity:
    """Draws of :meth:`KneeGradeModel.sample`.

    Attributes:
        severity: ``(S, V, 2)`` latent severity per subject, visit and side (right, left).
        kl: ``(S, V, 2)`` int8 KL grade 0-4.
        osteophytes: ``(S, V, 2, 4)`` int8 osteophyte grade 0-3 per margin in ``KNEE_TARGETS`` order.
        joint_space_mm: ``(S, V, 2, 2)`` (medial, lateral) joint space.
    """

    severity: np.ndarray
    kl: np.ndarray
    osteophytes: np.ndarray
    joint_space_mm: np.ndarray


def grade_correlation(grades: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix between targets of ``(N, T)`` grades (NaN where a target never varies)."""
    grades = np.asarray(grades, dtype=np.float64).reshape(-1, np.shape(grades)[-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.corrcoef(grades, rowvar=False)


def grade_distribution(grades: np.ndarray, names: Sequence[str], max_grade: int = 3) -> dict[str, list[int]]:
    """Counts of grades ``0..max_grade`` per target of ``(N, T)`` grades."""
    grades = np.asarray(grades).reshape(-1, len(names))
    return {
        name: np.bincount(grades[:, k], minlength=max_grade + 1).astype(int).tolist() for k, name in enumerate(names)
    }
