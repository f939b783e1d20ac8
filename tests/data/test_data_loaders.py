from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from monai.data import DataLoader, Dataset, MetaTensor

from hipmonai import InputError
from hipmonai.data import LoadHipScan, LoadHipScand, write_store


@pytest.fixture
def marker_store(tmp_path, make_record):
    """Non-square (H=5, W=7) image with one bright pixel at x=6, y=2; the same pixel in lesion channel 1."""
    image_hw = np.zeros((5, 7), dtype=np.float32)
    image_hw[2, 6] = 1.0
    mask = np.zeros((4, 5, 7), dtype=np.uint8)
    mask[1, 2, 6] = 1
    landmarks = np.array([[6.0, 2.0], [np.nan, np.nan]])
    records = [
        make_record("S0001", "V00", "right", image=image_hw, landmarks=landmarks, lesion_mask=mask,
                    grades=(0, 2, -1, 1)),
        make_record("S0001", "V00", "left", image=image_hw * 2, landmarks=landmarks, lesion_mask=np.zeros_like(mask),
                    grades=(3, 0, 0, -1)),
    ]
    return write_store(tmp_path / "stores" / "marker.h5", records)


def test_loaded_axes_follow_conventions(marker_store):
    item = LoadHipScand()({"h5": str(marker_store), "key": "S0001/V00/right", "fold": 3})
    image = item["image"]
    assert isinstance(image, MetaTensor) and image.shape == (1, 7, 5) and image.dtype == torch.float32
    assert image[0, 6, 2] == 1.0 and image.sum() == 1.0
    x, y = item["landmarks"][0]
    assert image[0, int(x), int(y)] == 1.0  # landmark (x, y) = voxel index (i, j)
    assert np.isnan(item["landmarks"][1]).all() and item["landmarks"].dtype == np.float32
    assert item["lesion_mask"].shape == (4, 7, 5) and item["lesion_mask"][1, 6, 2] == 1
    np.testing.assert_allclose(image.affine.numpy(), np.diag([0.4, 0.5, 1.0, 1.0]))
    assert image.meta["scan_key"] == "S0001/V00/right" and image.meta["subject_id"] == "S0001"
    assert image.meta["crop_offset_x"] == 120 and image.meta["flipped"] is False
    assert item["fold"] == 3  # other fields pass through


def test_labels_and_mask_from_grades(marker_store):
    item = LoadHipScand()({"h5": str(marker_store), "key": "S0001/V00/left", "grades": [0, 0, 0, 0]})
    assert item["grades"].tolist() == [3, 0, 0, -1] and item["grades"].dtype == np.int64
    assert item["label"].tolist() == [1.0, 0.0, 0.0, 0.0] and item["label"].dtype == np.float32
    assert item["label_mask"].tolist() == [1.0, 1.0, 1.0, 0.0]


def test_no_lesion_mask_when_the_store_has_none(tmp_path, make_record):
    store = write_store(tmp_path / "plain.h5", [make_record()])
    item = LoadHipScand()({"h5": str(store), "key": "S0001/V00/right"})
    assert "lesion_mask" not in item and item["image"].shape == (1, 5, 6)


def test_output_keys_and_base_dir_are_used(marker_store):
    transform = LoadHipScand(keys="store", scan_key="scan", base_dir=marker_store.parent, image_key="img",
                             label_key="target", label_mask_key="target_mask", landmarks_key="points",
                             grades_key="oarsi", lesion_mask_key="lesions")
    item = transform({"store": "marker.h5", "scan": "S0001/V00/right"})
    assert {"img", "points", "oarsi", "target", "target_mask", "lesions"} <= set(item)
    assert "image" not in item and item["img"].shape == (1, 7, 5)
    assert LoadHipScand(keys="store", allow_missing_keys=True)({"x": 1}) == {"x": 1}


def test_loader_errors(marker_store):
    with pytest.raises(InputError, match="no scan 'S0002/V00/right'"):
        LoadHipScand()({"h5": str(marker_store), "key": "S0002/V00/right"})
    with pytest.raises(InputError, match="has no 'key' field"):
        LoadHipScand()({"h5": str(marker_store)})
    with pytest.raises(InputError, match="HDF5 store not found"):
        LoadHipScan()(marker_store.parent / "nope.h5", "S0001/V00/right")


def test_works_in_dataloader_workers(marker_store):
    transform = LoadHipScand()
    items = [{"h5": str(marker_store), "key": k} for k in ("S0001/V00/right", "S0001/V00/left")] * 2
    transform(items[0])  # the parent opens a handle before the workers fork
    clone = pickle.loads(pickle.dumps(transform))  # spawn-style copies carry no handle
    assert all(store._file is None for store in clone.loader._stores.values())
    loader = DataLoader(Dataset(items, transform=LoadHipScand()), batch_size=2, num_workers=2)
    batches = list(loader)
    assert len(batches) == 2
    for batch in batches:
        assert batch["image"].shape == (2, 1, 7, 5)
        assert batch["image"][0, 0, 6, 2] == 1.0 and batch["image"][1, 0, 6, 2] == 2.0
        assert batch["label"].tolist() == [[0, 1, 0, 1], [1, 0, 0, 0]]
        assert batch["lesion_mask"].shape == (2, 4, 7, 5) and batch["landmarks"].shape == (2, 2, 2)


@pytest.mark.parametrize("n_items, batch_size, drop_last, message", [
    (0, 4, True, r"the training split is empty \(0 items, batch_size 4\)"),
    (0, 1, False, r"the training split is empty"),
    (3, 4, True, r"the training split has 3 items, fewer than batch_size 4 with drop_last=True"),
    (1, 2, True, r"has 1 item, fewer than batch_size 2"),
])
def test_split_loader_refuses_a_split_without_a_batch(n_items, batch_size, drop_last, message):
    from hipmonai.data import SplitDataLoader

    with pytest.raises(InputError, match=message):
        SplitDataLoader(Dataset(list(range(n_items))), split="training", batch_size=batch_size, shuffle=True,
                        drop_last=drop_last)


def test_split_loader_counts_items_per_process_and_loads_like_a_dataloader():
    from monai.data import DistributedSampler

    from hipmonai.data import SplitDataLoader

    data = Dataset([{"x": torch.tensor([float(i)])} for i in range(5)])
    loader = SplitDataLoader(data, split="training", batch_size=2, drop_last=True)
    assert len(loader) == 2 and isinstance(loader, DataLoader)
    assert [b["x"].flatten().tolist() for b in loader] == [[0.0, 1.0], [2.0, 3.0]]
    assert len(SplitDataLoader(data, split="validation", batch_size=8)) == 1  # no drop_last: one short batch
    sampler = DistributedSampler(data, shuffle=False, num_replicas=2, rank=0)  # 3 items on this process
    with pytest.raises(InputError, match=r"5 items \(3 per process with DistributedSampler\).*batch_size 4"):
        SplitDataLoader(data, split="training", batch_size=4, drop_last=True, sampler=sampler)


def test_prefetching_loader_gives_the_same_shuffled_augmented_batches():
    from monai.transforms import RandGaussianNoised

    from hipmonai.data import SplitDataLoader

    def epochs(prefetch_batches: int) -> list[torch.Tensor]:
        transform = RandGaussianNoised("x", prob=1.0)
        transform.set_random_state(seed=3)
        data = Dataset([{"x": torch.full((1, 4), float(i))} for i in range(10)], transform)
        torch.manual_seed(0)  # the shuffle
        loader = SplitDataLoader(data, batch_size=3, shuffle=True, drop_last=True, prefetch_batches=prefetch_batches)
        return [b["x"] for _ in range(2) for b in loader]

    plain, ahead = epochs(0), epochs(2)
    assert len(plain) == 6 and all(torch.equal(a, b) for a, b in zip(plain, ahead, strict=True))


def test_prefetch_raises_the_producers_error_and_stops_when_closed_early():
    import threading

    from hipmonai.data.loaders import prefetch

    def source():  # what a MONAI Compose raises for a transform's InputError
        yield 1
        raise RuntimeError("applying transform") from InputError("bad.h5: not a store")

    batches = prefetch(source())
    assert next(batches) == 1
    with pytest.raises(RuntimeError, match="applying transform") as info:
        next(batches)
    assert isinstance(info.value.__cause__, InputError)

    started = threading.active_count()
    endless = prefetch(iter(range(10**9)), size=2)
    assert [next(endless) for _ in range(3)] == [0, 1, 2]
    endless.close()  # a consumer that stops early: the thread ends
    assert threading.active_count() == started
    with pytest.raises(ValueError, match="size must be >= 1"):
        list(prefetch([], size=0))
    with pytest.raises(ValueError, match="prefetch_batches must be >= 0"):
        from hipmonai.data import SplitDataLoader

        SplitDataLoader(Dataset([1]), prefetch_batches=-1)
