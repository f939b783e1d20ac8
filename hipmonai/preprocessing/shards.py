"""Subject-level shards of a cohort, so that ``hipmonai preprocess --shard i/N`` runs can share a cohort on a cluster.

A subject belongs to shard ``sha256(subject_id) mod N`` (the first 8 bytes of the digest, big-endian): every visit of
a subject lands in the same shard, and the assignment is the same on every machine, Python version and run (unlike
Python's ``hash()``, which is salted per process). :func:`hipmonai.preprocessing.merge_shards` combines the shard
stores into the store a single run would have written.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from hipmonai.errors import InputError

__all__ = ["Shard", "shard_of"]

_SHARD_TEXT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def shard_of(subject_id: str, count: int) -> int:
    """The shard, in ``[0, count)``, of a subject: ``int(sha256(subject_id UTF-8)[:8], big-endian) % count``.

    Raises:
        ValueError: ``count`` is not a positive integer.
    """
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}.")
    digest = hashlib.sha256(subject_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``: the subjects with :func:`shard_of` ``(subject_id, count) == index``.

    Attributes:
        index: this shard, ``0 <= index < count`` (SLURM's ``$SLURM_ARRAY_TASK_ID`` with ``--array=0-(count-1)``).
        count: the number of shards.
    """

    index: int
    count: int

    def __post_init__(self) -> None:
        if not (isinstance(self.index, int) and isinstance(self.count, int) and 0 <= self.index < self.count):
            raise InputError(f"a shard must be INDEX/COUNT with 0 <= INDEX < COUNT (e.g. 3/10), got "
                             f"{self.index!r}/{self.count!r}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"3/10"`` -> ``Shard(3, 10)``.

        Raises:
            InputError: not ``INDEX/COUNT`` with ``0 <= INDEX < COUNT``.
        """
        match = _SHARD_TEXT.match(text)
        if match is None:
            raise InputError(f"--shard must be INDEX/COUNT with 0 <= INDEX < COUNT (e.g. 3/10), got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def contains(self, subject_id: str) -> bool:
        """Whether ``subject_id`` belongs to this shard."""
        return shard_of(subject_id, self.count) == self.index
