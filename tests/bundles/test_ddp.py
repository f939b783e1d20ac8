"""Every bundle's ``configs/multi_gpu_train.json`` under ``torchrun`` with two CPU processes (gloo), end to end.

Each test trains a bundle on a tiny phantom cohort with::

    torchrun --standalone --nproc_per_node=2 -m monai.bundle run \\
        --config_file "['configs/train.json','configs/multi_gpu_train.json', <tiny overrides>]"

(``python -m torch.distributed.run`` is ``torchrun``), with no GPU visible so that the configs pick gloo and the
CPU themselves, and checks:

- torchrun's exit code is 0 (every rank finished and exited cleanly);
- the checkpoint exists and loads into the bundle's ``network_def``;
- only rank 0 wrote files: the tiny overrides give each rank its own ``ckpt_dir``/``output_dir``
  (``.../rank<RANK>``), and rank 1's must stay empty;
- the replicas stayed in sync: after training, a probe appended to ``run`` saves each rank's weights, learning rate
  and schedule state, and they must be equal across ranks;
- the validation metrics were computed over the whole validation set, gathered across ranks: the validation split
  has an odd size so the two shards differ (3 and 2 items); the probe saves each rank's sampler length and the
  evaluator's final metrics; the shards must cover the split, both ranks must report the same metrics, and those
  must equal a single-process evaluation of the probed weights on the whole split, and differ from one on rank 0's
  shard alone (so the comparison would catch a metric computed on one shard). The validation batch size is 1 so
  that batch-averaged metrics (the grading bundle's loss) do not depend on how items fall into batches.

The four runs take about 15-20 s each on two shared cores; all but the label-augmentation bundle are
``@pytest.mark.slow`` (run them with ``pytest -m slow tests/bundles/test_ddp.py``).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"  # the repository's bundle folders
NPROC = 2
N_VALIDATION = 5  # odd: the two validation shards have 3 and 2 items (knee: 3 -> 2 and 1)

# appended to the bundle's "run" list: each rank saves what must agree across ranks (weights, learning rates,
# {extra}), its validation shard size and the evaluator's last metrics
PROBE = ("$torch.save({{'state': {{k: v.detach().cpu().clone() for k, v in @network.module.state_dict().items()}}, "
         "'lr': [g['lr'] for g in @optimizer.param_groups], 'n_val': len(@validate#sampler), "
         "'metrics': {{k: float(v) for k, v in @validate#evaluator.state.metrics.items()}}, "
         "'extra': {{{extra}}}}}, {probe_dir!r} + '/rank' + os.environ['RANK'] + '.pt')")


def _trim_validation(manifest: Path, n: int) -> None:
    """Keep the first ``n`` validation items of a manifest written by a hipmonai prepare step."""
    data = json.loads(manifest.read_text())
    assert len(data["validation"]) >= n, f"{manifest}: only {len(data['validation'])} validation items"
    data["validation"] = data["validation"][:n]
    data.pop("counts", None)
    manifest.write_text(json.dumps(data))


@pytest.fixture(scope="module")
def hip_manifest(tiny_hip_store, tmp_path_factory) -> Path:
    """The session tiny hip store (1.4 mm / 64 px), split 3/3/0 subjects (6/5/0 hips after trimming)."""
    from hipmonai.data import make_datalist, write_manifest

    out = tmp_path_factory.mktemp("ddp_hip")
    manifest = make_datalist(tiny_hip_store, seed=0, fractions=(0.5, 0.5, 0.0))
    manifest["validation"] = manifest["validation"][:N_VALIDATION]
    return write_manifest(out / "manifest.json", manifest)


@pytest.fixture(scope="module")
def pelvis_dir(hip_cohort, tmp_path_factory) -> Path:
    """The session hip cohort as a 48 px pelvis landmark cache, split 3/3/0 radiographs."""
    from hipmonai.data.pelvis import prepare_pelvis_data

    out = tmp_path_factory.mktemp("ddp_pelvis")
    prepare_pelvis_data(hip_cohort / "dicom", hip_cohort / "landmarks", out, size_px=48,
                        fractions=(0.5, 0.5, 0.0), progress=False)
    return out


@pytest.fixture(scope="module")
def knee_dir(tmp_path_factory) -> Path:
    """A 4-subject knee cohort prepared at 4 mm / 3 mm, split 2/2/0 subjects (4/3/0 knees after trimming)."""
    from hipmonai.data.knee import prepare_knee_data
    from hipmonai.phantoms import generate_knee_cohort

    root = tmp_path_factory.mktemp("ddp_knee")
    generate_knee_cohort(root / "cohort", n_subjects=4, seed=5, workers=1, progress=False)
    cohort = root / "cohort"
    prepare_knee_data(cohort / "dicom", cohort / "landmarks", root / "data", grades_csv=cohort / "grades.csv",
                      roi_spacing_mm=4.0, roi_size_px=(48, 80),
                      landmark_spacing_mm=3.0, crop_mm=140.0, fractions=(0.5, 0.5, 0.0))
    _trim_validation(root / "data" / "landmarks.json", 3)
    return root / "data"


def _torchrun(bundle: Path, config_files: Sequence[str], overrides: Mapping[str, Any], out: Path,
              timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the bundle's ``train.json`` + ``multi_gpu_train.json`` + ``config_files`` + ``overrides`` (written as a
    JSON override file) under torchrun with ``NPROC`` CPU processes; returns the finished process."""
    override_file = out / "tiny_overrides.json"
    override_file.write_text(json.dumps(overrides, indent=1))
    configs = [str(bundle / "configs" / "train.json"), str(bundle / "configs" / "multi_gpu_train.json"),
               *[str(bundle / "configs" / f) for f in config_files], str(override_file)]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={NPROC}",
               "-m", "monai.bundle", "run", "--config_file", repr(configs),
               "--meta_file", str(bundle / "configs" / "metadata.json"),
               "--logging_file", str(bundle / "configs" / "logging.conf"), "--bundle_root", str(bundle)]
    # no GPU visible: the configs must choose gloo and the CPU on their own
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=bundle, env=env, capture_output=True, text=True, timeout=timeout)


def _evaluate(bundle: Path, config_files: Sequence[str], overrides: Mapping[str, Any], state: Mapping[str, Any],
              shard: slice | None = None) -> dict[str, float]:
    """Single-process validation of ``state`` with the bundle's own evaluator (no handlers, nothing written);
    ``shard`` restricts the validation split to those items."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config([str(bundle / "configs" / "train.json"), *[str(bundle / "configs" / f) for f in config_files]])
    parser.update({"bundle_root": str(bundle), **overrides, "validate#handlers": []})
    if shard is not None:
        data = parser["validate#dataset#data"]
        parser["validate#dataset#data"] = f"$({data[1:]})[{shard.start}:{shard.stop}:{shard.step}]"
    parser.get_parsed_content("network_def").load_state_dict(state)  # "network" moves this same module
    evaluator = parser.get_parsed_content("validate#evaluator")
    evaluator.run()
    return {k: float(v) for k, v in evaluator.state.metrics.items()}


def _same(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    """Equal metric dicts (NaN equals NaN; relative 1e-5 for float32 sums in another order)."""
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or math.isclose(a[k], b[k], rel_tol=1e-5, abs_tol=1e-7) for k in a)


def _load_weights(network: torch.nn.Module, path: Path) -> torch.nn.Module:
    """A bundle checkpoint (the state dict, or ``{"model": state dict, ...}``) loaded strictly into ``network``."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state.get("model"), Mapping):
        state = state["model"]
    network.load_state_dict(state)
    return network


def _check_ddp_run(name: str, config_files: Sequence[str], tiny: Mapping[str, Any], checkpoints: Sequence[str],
                   n_validation: int, tmp_path: Path, extra_probe: Mapping[str, str] | None = None,
                   extra_overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Train ``name`` under torchrun and run every check of the module docstring; returns rank 0's probe."""
    from monai.bundle import ConfigParser

    bundle = BUNDLES / name
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    extra = ", ".join(f"{k!r}: {v.removeprefix('$')}" for k, v in (extra_probe or {}).items())
    per_rank = f"$'{tmp_path}/rank' + os.environ['RANK']"
    overrides = {**tiny, **(extra_overrides or {}), "ckpt_dir": per_rank, "output_dir": per_rank,
                 "+run": [PROBE.format(extra=extra, probe_dir=str(probe_dir))]}
    done = _torchrun(bundle, config_files, overrides, tmp_path)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert "terminate called" not in log, log[-4000:]

    # only rank 0 wrote: its checkpoints, nothing from rank 1
    rank0, rank1 = tmp_path / "rank0", tmp_path / "rank1"
    assert not rank1.exists() or not any(rank1.rglob("*")), sorted(rank1.rglob("*"))
    assert {p.name for p in rank0.iterdir()} == set(checkpoints)
    parser = ConfigParser()
    parser.read_config([str(bundle / "configs" / "train.json"), *[str(bundle / "configs" / f) for f in config_files]])
    parser.update({"bundle_root": str(bundle), **tiny})
    for checkpoint in checkpoints:
        _load_weights(parser.get_parsed_content("network_def", lazy=False), rank0 / checkpoint)

    # the replicas agree: same weights (and batch-norm statistics), learning rates and schedule state
    probes = [torch.load(probe_dir / f"rank{r}.pt", weights_only=True) for r in range(NPROC)]
    for other in probes[1:]:
        assert other["state"].keys() == probes[0]["state"].keys()
        assert all(torch.equal(other["state"][k], v) for k, v in probes[0]["state"].items())
        assert other["lr"] == probes[0]["lr"] and other["extra"] == probes[0]["extra"]

    # the metrics cover the whole validation split, gathered across ranks
    shards = [p["n_val"] for p in probes]
    assert sum(shards) == n_validation and len(set(shards)) == 2, shards  # uneven shards, all items once
    assert all(_same(p["metrics"], probes[0]["metrics"]) for p in probes[1:])
    full = _evaluate(bundle, config_files, tiny, probes[0]["state"])
    assert _same(probes[0]["metrics"], full), (probes[0]["metrics"], full)
    shard0 = _evaluate(bundle, config_files, tiny, probes[0]["state"], shard=slice(0, None, NPROC))
    assert not _same(shard0, full), "rank 0's shard gives the full-split metrics: the check cannot tell them apart"
    return probes[0]


HIP_TINY = {"image_size_px": 64, "widen_factor": 0.125, "batch_size": 2, "max_epochs": 2, "num_workers": 0,
            "validate#dataloader#batch_size": 1}


@pytest.mark.slow
def test_prior_ddp_on_cpu(hip_manifest, tmp_path):
    probe = _check_ddp_run("hip_osteophyte_prior", [], {**HIP_TINY, "datalist": str(hip_manifest)}, ["model.pt"],
                           N_VALIDATION, tmp_path)
    assert {"val_loss", "val_mean_auc"} <= set(probe["metrics"])


@pytest.mark.slow
def test_grading_ddp_on_cpu(hip_manifest, tmp_path):
    tiny = {**HIP_TINY, "datalist": str(hip_manifest), "n_strong": 4}
    probe = _check_ddp_run("hip_osteophyte_grading", [], tiny, ["model.pt", "model_min_loss.pt"], N_VALIDATION,
                           tmp_path)
    assert {"val_mean_kappa", "val_loss", "val_global_accuracy"} <= set(probe["metrics"])


def test_labelaug_ddp_on_cpu(pelvis_dir, tmp_path):
    """The fastest of the four (kept in CI). The label curriculum must run on every rank: each rank's dilation is
    probed and must agree (1 in epoch 1, 0 in epoch 2)."""
    tiny = {"dataset_dir": str(pelvis_dir), "channels": [4, 8], "strides": [2], "num_res_units": 0,
            "num_workers": 0, "batch_size": 2, "dilation_initial": 1, "dilation_step": 1,
            "dilation_every_epochs": 1, "max_epochs": 2, "validate#dataloader#batch_size": 1}
    probe = _check_ddp_run("hip_landmark_labelaug", [], tiny, ["model.pt", "model_final.pt"], 3, tmp_path,
                           extra_probe={"dilation": "$@train_step.dilation"})
    assert probe["extra"]["dilation"] == 0
    assert {"val_rmse_px", "val_mre_mm", "val_sdr_4px"} <= set(probe["metrics"])


@pytest.mark.slow
def test_kneel_ddp_on_cpu_with_cosine_lr(knee_dir, tmp_path):
    """The landmark stage, initialised from an (untrained) ROI checkpoint, with ``cosine_lr.json``: its
    ``LrScheduleHandler`` must step on every rank, so each rank's learning rate is probed."""
    from hipmonai.networks import KneelHourglassNet

    roi = tmp_path / "roi" / "model_roi.pt"
    roi.parent.mkdir()
    torch.save({"model": KneelHourglassNet(1, 1, 4, 2).state_dict()}, roi)
    tiny = {"dataset_dir": str(knee_dir), "width": 4, "depth": 2, "batch_size": 2, "max_epochs": 2,
            "num_workers": 0, "validate#dataloader#batch_size": 1, "init_from_roi": False}
    probe = _check_ddp_run("knee_landmark_kneel", ["cosine_lr.json"], tiny, ["model.pt"], 3, tmp_path,
                           extra_overrides={"init_from_roi": True, "roi_checkpoint": str(roi)})
    assert probe["lr"][0] == pytest.approx(1e-3 * (0.01 + 0.99 * (1 + math.cos(math.pi * 2 / 2)) / 2))
    assert {"val_mre_mm", "val_pck_2mm"} <= set(probe["metrics"])


def test_multi_gpu_configs_choose_backend_and_device_from_the_machine(monkeypatch):
    """NCCL + ``cuda:LOCAL_RANK`` (with ``device_ids``) when CUDA is available, gloo + CPU (no ``device_ids``)
    otherwise; nothing but loggers and checkpoint savers is dropped on ranks > 0; a barrier before the teardown."""
    from monai.bundle import ConfigParser

    for name in ("hip_osteophyte_prior", "hip_osteophyte_grading", "hip_landmark_labelaug", "knee_landmark_kneel"):
        configs = BUNDLES / name / "configs"
        for cuda, device, backend in ((False, "cpu", "gloo"), (True, "cuda:1", "nccl")):
            monkeypatch.setattr(torch.cuda, "is_available", lambda cuda=cuda: cuda)
            monkeypatch.setenv("LOCAL_RANK", "1")
            parser = ConfigParser()
            parser.read_config([str(configs / "train.json"), str(configs / "multi_gpu_train.json")])
            assert str(parser.get_parsed_content("device")) == device, name
            assert parser.get_parsed_content("backend") == backend, name
            assert parser.get_parsed_content("network#device_ids") == (None if device == "cpu" else [
                torch.device(device)]), name
            assert "dist.init_process_group(backend=@backend)" in " ".join(parser["initialize"]), name
        for key in ("train#trainer#train_handlers", "validate#evaluator#val_handlers"):
            text = parser[key]
            for kept in ("ValidationHandler", "LabelCurriculum", "LrScheduleHandler"):
                assert kept not in text, (name, key)  # a deny-list of writers, not an allow-list
            assert "dist.get_rank() == 0 or not isinstance(h, (monai.handlers.StatsHandler" in text, (name, key)
        # every rank leaves the last collective before any rank tears its process group down
        assert parser["finalize"] == ["$dist.is_initialized() and dist.barrier()",
                                      "$dist.is_initialized() and dist.destroy_process_group()"], name

