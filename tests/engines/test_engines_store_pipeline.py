"""The steps fed by the real data path: HDF5 store -> LoadHipScand -> TargetLandmarksd -> DataLoader -> engine."""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from ignite.engine import Events
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedEvaluator, SupervisedTrainer
from monai.transforms import Compose

from hipmonai.data import LoadHipScand, ScanRecord, write_store
from hipmonai.data.weak_labels import make_weak_strong_datalist
from hipmonai.engines import CAMPriorStep, WeakStrongStep
from hipmonai.handlers import QuadraticWeightedKappa
from hipmonai.losses.masked_bce import MaskedBCEWithLogitsLoss
from hipmonai.losses.weak_strong import WeakStrongLoss
from hipmonai.networks.multitask_resnet import MultitaskResNet18
from hipmonai.networks.resnet_cam import ResNet18CAM
from hipmonai.transforms.target_landmarks import TargetLandmarksd


def _store(tmp_path, n_subjects: int = 4):
    rng = np.random.default_rng(0)
    records = []
    for s in range(n_subjects):
        for side in ("right", "left"):
            landmarks = rng.uniform(0, 32, size=(80, 2))
            landmarks[67] = np.nan  # osteo_acet_sup has no valid landmark in these hips
            records.append(ScanRecord(
                subject_id=f"S{s:03d}", visit="V00", side=side, image=rng.normal(size=(32, 32)),
                landmarks=landmarks, grades=rng.integers(-1, 4, size=4), lesion_mask=None, pixel_spacing=(0.4, 0.4),
                crop_offset_x=0, crop_offset_y=0, femoral_head_radius=10.0, flipped=side == "left",
                source_uid_hash=hashlib.sha256(f"{s}{side}".encode()).hexdigest()[:16],
            ))
    path = write_store(tmp_path / "cohort.h5", records)
    return [{"h5": str(path), "key": r.key, "subject_id": r.subject_id, "grades": r.grades.tolist()} for r in records]


def test_cam_prior_step_trains_on_store_batches(tmp_path):
    items = _store(tmp_path)
    loader = DataLoader(Dataset(items, Compose([LoadHipScand(), TargetLandmarksd()])), batch_size=4)
    batch = next(iter(loader))
    assert batch["target_landmarks"].shape == (4, 4, 4, 2) and torch.isnan(batch["target_landmarks"][:, 2]).all()
    torch.manual_seed(0)
    net = ResNet18CAM(widen_factor=0.0625)
    trainer = SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=1, train_data_loader=loader, network=net,
        optimizer=torch.optim.Adam(net.parameters(), 1e-3), loss_function=MaskedBCEWithLogitsLoss(),
        iteration_update=CAMPriorStep(lambda_prior=2.0),
    )
    losses = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output[0]["loss_prior"]))
    trainer.run()
    assert len(losses) == 2 and all(np.isfinite(v) and v > 0 for v in losses)


def test_weak_strong_step_trains_on_a_weak_strong_datalist(tmp_path):
    items = _store(tmp_path, n_subjects=6)
    datalist = make_weak_strong_datalist(items, n_strong=4, rho=1, seed=123)
    assert any(i["is_weak"] for i in datalist) and any(not i["is_weak"] for i in datalist)
    loader = DataLoader(Dataset(datalist, LoadHipScand()), batch_size=4, drop_last=True)
    torch.manual_seed(0)
    net = MultitaskResNet18(widen_factor=0.0625)
    trainer = SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=1, train_data_loader=loader, network=net,
        optimizer=torch.optim.Adam(net.parameters(), 1e-3), loss_function=WeakStrongLoss("dual_mil"),
        iteration_update=WeakStrongStep(),
        key_train_metric={"train_kappa": QuadraticWeightedKappa()},
    )
    trainer.run()
    assert np.isfinite(trainer.state.output[0]["loss"])
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"), val_data_loader=DataLoader(Dataset(items, LoadHipScand()), batch_size=4),
        network=net, iteration_update=WeakStrongStep(loss=WeakStrongLoss("dual_mil")),
        key_val_metric={"val_mean_kappa": QuadraticWeightedKappa()},
    )
    evaluator.run()
    assert "val_mean_kappa" in evaluator.state.metrics
