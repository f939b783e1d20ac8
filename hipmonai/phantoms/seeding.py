"""Per-subject and per-image random streams, so a cohort is identical for any number of worker processes.

Subject ``i`` (0-based) draws its anatomy, patient and severity from ``SeedSequence(seed, spawn_key=(i,))``; its
visit ``v`` draws pose, exposure and noise from ``SeedSequence(seed, spawn_key=(i, v))``.
"""

from __future__ import annotations

import numpy as np

SeedLike = int | np.random.Generator | np.random.SeedSequence


def subject_seed(seed: int, subject_index: int) -> np.random.SeedSequence:
    """Seed of subject ``subject_index`` (0-based) of a cohort generated with ``seed``."""
    return np.random.SeedSequence(int(seed), spawn_key=(int(subject_index),))


def image_seed(seed: int, subject_index: int, visit: int) -> np.random.SeedSequence:
    """Seed of visit ``visit`` of subject ``subject_index`` of a cohort generated with ``seed``."""
    return np.random.SeedSequence(int(seed), spawn_key=(int(subject_index), int(visit)))


def resolve(seed: SeedLike, visit: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """``(subject_rng, pose_rng, noise_rng)`` for a single rendered image.

    An int means subject 0 of a cohort with that seed; a ``SeedSequence`` is taken as the image seed (its first
    spawn-key entry names the subject); a ``Generator`` feeds everything (subject first, then two child streams).
    """
    if isinstance(seed, np.random.Generator):
        pose, noise = seed.spawn(2)
        return seed, pose, noise
    if isinstance(seed, np.random.SeedSequence):
        if len(seed.spawn_key) < 1:
            raise ValueError("an image SeedSequence needs spawn_key=(subject_index, visit); use image_seed().")
        subject_ss = np.random.SeedSequence(seed.entropy, spawn_key=tuple(seed.spawn_key[:1]))
        image_ss = seed
    elif isinstance(seed, (int, np.integer)):
        subject_ss, image_ss = subject_seed(int(seed), 0), image_seed(int(seed), 0, visit)
    else:
        raise TypeError(f"seed must be an int, a numpy Generator or a SeedSequence, got {type(seed).__name__}.")
    pose_ss, noise_ss = image_ss.spawn(2)
    return np.random.default_rng(subject_ss), np.random.default_rng(pose_ss), np.random.default_rng(noise_ss)
