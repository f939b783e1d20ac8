"""``hipmonai merge``: the shard stores of ``hipmonai preprocess --shard I/N`` runs -> the store and summary of one run.

Each shard's summary (beside its store) says which shard it is, with what parameters and inputs it was made and how
many images the whole cohort had. The shards must be all ``N`` of one run (each once), made with the same parameters
and inputs (grades CSV and detector checkpoint contents) from the same DICOM folder; their subjects are disjoint by
construction (:mod:`hipmonai.preprocessing.shards`) and checked again. The merged store is written by
:func:`hipmonai.data.store.merge_stores` in key order, so it holds the keys, datasets and attributes a single run would
have written; the merged summary adds the shards' counts, lists and seconds, and names the shards in ``merged_from``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hipmonai.atomic import write_text_atomic
from hipmonai.data import HipStore
from hipmonai.data.store import is_disk_full, merge_stores, store_write_lock
from hipmonai.errors import HipmonaiError, InputError
from hipmonai.preprocessing.runner import summary_path

__all__ = ["merge_shards"]

#: summary entries every shard of one run must share, with how a difference is named
_SHARED = {
    "parameters": "parameters",
    "inputs": "inputs (grades CSV or detector checkpoint contents)",
}
#: parameters that may differ between shards: where each shard wrote its predicted ``.pts`` files
_PER_SHARD_PARAMETERS = (("detector", "predicted_dir"),)


def _read_shard(path: Path) -> dict[str, Any]:
    """A shard's summary, checked against its store."""
    summary_file = summary_path(path)
    if not summary_file.is_file():
        raise InputError(f"{path}: no summary {summary_file.name} beside it; merge takes the stores written by "
                         "hipmonai preprocess --shard I/N")
    try:
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"{summary_file}: not a readable summary ({err})") from err
    shard = summary.get("shard") if isinstance(summary, Mapping) else None
    if not isinstance(shard, Mapping) or not {"index", "count", "cohort_images_found"} <= set(shard):
        raise InputError(f"{path} is not a shard (its summary has no shard entry); merge takes the stores of "
                         "hipmonai preprocess --shard I/N runs")
    if summary.get("hips_written"):
        if not path.is_file():
            raise InputError(f"{path}: store not found, but its summary says {summary['hips_written']} hips were "
                             "written")
        store = HipStore(path)
        found = store.attrs.get("shard")
        store.close()
        if found != f"{shard['index']}/{shard['count']}":
            raise InputError(f"{path}: the store says shard {found}, its summary {shard['index']}/{shard['count']}")
    return summary


def _without_per_shard(parameters: Mapping[str, Any]) -> dict[str, Any]:
    kept = json.loads(json.dumps(parameters))
    for group, name in _PER_SHARD_PARAMETERS:
        if isinstance(kept.get(group), dict):
            kept[group].pop(name, None)
    return kept


def _first_difference(a: Any, b: Any, where: str = "") -> str | None:
    """``"name: a vs b"`` for the first differing leaf of two JSON values, or None when equal."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in sorted(set(a) | set(b)):
            found = _first_difference(a.get(key), b.get(key), f"{where}.{key}" if where else key)
            if found is not None:
                return found
        return None
    return None if a == b else f"{where}: {a!r} vs {b!r}"


def _check_one_run(paths: Sequence[Path], summaries: Sequence[Mapping[str, Any]]) -> None:
    """The shards are all of one run, each once, with the same parameters and inputs."""
    first_path, first = paths[0], summaries[0]
    count = first["shard"]["count"]
    given: dict[int, Path] = {}
    for path, summary in zip(paths, summaries, strict=True):
        shard = summary["shard"]
        if shard["count"] != count:
            raise InputError(f"{path} is shard {shard['index']}/{shard['count']} but {first_path} is one of {count}; "
                             "merge the shards of one run")
        if shard["index"] in given:
            raise InputError(f"shard {shard['index']}/{count} given twice: {given[shard['index']]} and {path}")
        given[shard["index"]] = path
    missing = [f"{index}/{count}" for index in range(count) if index not in given]
    if missing:
        raise InputError(f"missing shards {', '.join(missing)}: merge takes all {count} shards of a run")
    for path, summary in zip(paths, summaries, strict=True):
        for entry, what in _SHARED.items():
            a, b = first.get(entry), summary.get(entry)
            if entry == "parameters":
                a, b = _without_per_shard(a or {}), _without_per_shard(b or {})
            difference = _first_difference(a, b)
            if difference is not None:
                raise InputError(f"{first_path} and {path} were made with other {what} ({difference}); shards of one "
                                 "run must share them")
        if summary["shard"]["cohort_images_found"] != first["shard"]["cohort_images_found"]:
            raise InputError(f"{first_path} and {path} saw other DICOM folders ({first['shard']['cohort_images_found']}"
                             f" vs {summary['shard']['cohort_images_found']} images found in the cohort)")


def _merged_summary(out: Path, paths: Sequence[Path], summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The summary a single run would have written (plus ``merged_from``); ``summaries`` in shard order."""
    first = summaries[0]
    hips = sum(s["hips_written"] for s in summaries)
    # entries without a side come from discovery (files not keyed to a subject), which shard 0 reports in its order;
    # per-image entries are sorted by input as a single run sorts its images (a stable sort keeps each image's order)
    discovery = [entry for entry in first["skipped"] if "side" not in entry]
    per_image = sorted((entry for s in summaries for entry in s["skipped"] if "side" in entry),
                       key=lambda entry: entry["input"])
    return {
        "store": out.name if hips else None,
        "parameters": first["parameters"],
        "inputs": first["inputs"],
        "images_found": sum(s["images_found"] for s in summaries),
        "images_processed": sum(s["images_processed"] for s in summaries),
        "hips_written": hips,
        "skipped": discovery + per_image,
        "notes": sorted((note for s in summaries for note in s["notes"]), key=lambda note: note["input"]),
        "grades_rejected": first["grades_rejected"],
        "grades_without_image": sorted(key for s in summaries for key in s["grades_without_image"]),
        "seconds": round(sum(s.get("seconds") or 0.0 for s in summaries), 2),
        "merged_from": [path.name for path in paths],
    }


def merge_shards(
    stores: Sequence[str | os.PathLike], out: str | os.PathLike, overwrite: bool = False
) -> dict[str, Any]:
    """Merge the stores and summaries of all shards of one ``hipmonai preprocess --shard I/N`` run.

    Args:
        stores: the shard stores, in any order (a shard that wrote no hip has a summary but no store; give its
            store's path all the same).
        out: the merged store; its summary is written beside it (``seconds`` is the shards' sum).
        overwrite: replace an existing ``out``.

    Returns:
        The merged summary.

    Raises:
        InputError: a path is not a shard (no summary, or a summary without ``shard``), shards of different runs
            (another shard count, other parameters or inputs, another cohort), a shard given twice or missing, a
            subject in two shards, ``out`` exists without ``overwrite`` or is being written, or no shard wrote a hip.
            Each message is one line naming the files.
    """
    if not stores:
        raise InputError("give the shard stores to merge")
    out = Path(out)
    read = [(Path(path), _read_shard(Path(path))) for path in stores]
    read.sort(key=lambda item: item[1]["shard"]["index"])
    paths, summaries = [p for p, _ in read], [s for _, s in read]
    _check_one_run(paths, summaries)
    summary = _merged_summary(out, paths, summaries)
    with store_write_lock(out, "hipmonai merge"):
        if out.exists() and not overwrite:
            raise InputError(f"{out} exists; pass --overwrite to replace it")
        try:
            if summary["hips_written"]:
                written = [path for path, shard in zip(paths, summaries, strict=True) if shard["hips_written"]]
                merge_stores(written, out, drop_attrs=("shard",))
            elif out.exists():
                out.unlink()
            try:
                write_text_atomic(summary_path(out), json.dumps(summary, indent=2))
            except BaseException:
                out.unlink(missing_ok=True)
                raise
        except OSError as err:
            if is_disk_full(err):
                raise HipmonaiError(f"no space left on the device while writing {out}: free some space and rerun "
                                    "the merge (the shards are unchanged)") from err
            raise
    if not summary["hips_written"]:
        raise InputError(f"no hip was written by any shard; the reasons are in {summary_path(out)}")
    return summary
