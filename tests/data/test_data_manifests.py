from __future__ import annotations

import json
import os
import re
from itertools import combinations
from pathlib import Path

import pytest

from hipmonai import InputError
from hipmonai.data import (
    SPLITS,
    HipStore,
    load_datalist,
    load_manifest,
    make_datalist,
    split_sizes,
    split_subjects,
    write_manifest,
)

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "data_manifests" / "schema.json"  # the repository's
SUBJECTS = [f"S{i:04d}" for i in range(100)]


@pytest.mark.parametrize(
    "n, fractions, sizes",
    [
        (100, (0.7, 0.15, 0.15), (70, 15, 15)),
        (10, (0.7, 0.15, 0.15), (7, 2, 1)),
        (3, (0.7, 0.15, 0.15), (1, 1, 1)),
        (4, (0.7, 0.15, 0.15), (2, 1, 1)),
        (2, (0.7, 0.15, 0.15), (1, 1, 0)),
        (1, (0.7, 0.15, 0.15), (1, 0, 0)),
        (7, (0.5, 0.5, 0.0), (4, 3, 0)),
        (33, (0.6, 0.2, 0.2), (20, 7, 6)),
    ],
)
def test_split_sizes(n, fractions, sizes):
    assert split_sizes(n, fractions) == sizes


@pytest.mark.parametrize(
    "fractions, message",
    [((0.7, 0.3), "three"), ((0.7, 0.2, 0.2), "sum to 1"), ((1.2, -0.1, -0.1), "non-negative"), ("abc", "three")],
)
def test_bad_fractions(fractions, message):
    with pytest.raises(InputError, match=message):
        split_subjects(SUBJECTS, fractions=fractions)


def test_split_is_deterministic_disjoint_and_proportional():
    splits = split_subjects(SUBJECTS, seed=3)
    assert splits == split_subjects(list(reversed(SUBJECTS)), seed=3)  # input order does not matter
    assert splits != split_subjects(SUBJECTS, seed=4)
    assert [len(splits[name]) for name in SPLITS] == [70, 15, 15]
    together = [s for name in splits for s in splits[name]]
    assert sorted(together) == SUBJECTS  # every subject exactly once
    assert all(splits[name] == sorted(splits[name]) for name in splits)


def test_split_subjects_refuses_bad_input():
    with pytest.raises(InputError, match="no subjects"):
        split_subjects([])
    with pytest.raises(InputError, match="'S0001' given more than once"):
        split_subjects(["S0001", "S0002", "S0001"])
    with pytest.raises(InputError, match="seed must be a non-negative integer"):
        split_subjects(SUBJECTS, seed=-1)
    with pytest.warns(UserWarning, match="only 2 subjects"):
        assert split_subjects(["a", "b"])["test"] == []


def test_datalist_keeps_subjects_whole(cohort_store):
    manifest = make_datalist(cohort_store, seed=0)
    store = HipStore(cohort_store)
    subjects_of = {name: {item["subject_id"] for item in manifest[name]} for name in SPLITS}
    assert [len(subjects_of[n]) for n in SPLITS] == [70, 15, 15]
    for a, b in combinations(SPLITS, 2):
        assert not subjects_of[a] & subjects_of[b], (a, b)
    keys = [item["key"] for name in SPLITS for item in manifest[name]]
    assert sorted(keys) == store.keys()  # every hip of every visit, once
    for name in SPLITS:
        assert manifest["counts"][name] == {"subjects": len(subjects_of[name]), "hips": len(manifest[name])}
    item = manifest["training"][0]
    assert item["grades"] == store[item["key"]]["grades"].tolist() and os.path.isabs(item["h5"])
    assert manifest["seed"] == 0 and manifest["fractions"] == [0.7, 0.15, 0.15]
    assert make_datalist(cohort_store, seed=0) == manifest


def test_write_and_load_resolve_relative_paths(cohort_store, tmp_path):
    out = tmp_path / "manifests" / "demo.json"
    write_manifest(out, make_datalist(cohort_store, seed=1))
    raw = json.loads(out.read_text())
    relative = os.path.relpath(cohort_store, out.parent)
    assert raw["store"] == relative and {i["h5"] for i in raw["training"]} == {relative}
    assert not any(p.name.startswith(".") for p in out.parent.iterdir())
    loaded = load_manifest(out)
    assert loaded["store"] == str(cohort_store) and loaded["training"][0]["h5"] == str(cohort_store)
    assert load_datalist(out, "validation") == loaded["validation"]
    with pytest.raises(InputError, match="split must be one of"):
        load_datalist(out, "train")


def test_leaked_subject_is_named(cohort_store, tmp_path):
    manifest = make_datalist(cohort_store, seed=2)
    moved = manifest["test"][0]
    leaked = next(i for i in manifest["test"] if i["subject_id"] == moved["subject_id"] and i is not moved)
    manifest["test"].remove(leaked)
    manifest["training"].append(leaked)
    path = tmp_path / "leaky.json"
    path.write_text(json.dumps(manifest))
    with pytest.raises(InputError, match=rf"subject '{moved['subject_id']}' is in both 'training' and 'test'"):
        load_manifest(path)
    with pytest.raises(InputError, match="is in both"):
        write_manifest(tmp_path / "other.json", manifest)
    assert not (tmp_path / "other.json").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"training": [], "validation": []}', r"missing split lists \['test'\]"),
        ('{"training": {}, "validation": [], "test": []}', "'training' must be a list"),
        ('{"training": [{"h5": "x.h5"}], "validation": [], "test": []}', r"training\[0\] lacks fields"),
        ('{"training": [{"h5": "x.h5", "key": "S1/V1/right", "subject_id": "S2", "visit": "V1", "side": "right",'
         ' "grades": [0, 0, 0, 0]}], "validation": [], "test": []}', "disagrees with subject_id"),
        ('{"training": [{"h5": "x.h5", "key": "S1/V1/right", "subject_id": "S1", "visit": "V1", "side": "right",'
         ' "grades": [0, 0, 7, 0]}], "validation": [], "test": []}', "'grades' must be 4 integers"),
        ('{"seed": "x", "training": [], "validation": [], "test": []}', "'seed' must be an integer"),
    ],
)
def test_malformed_manifest(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_manifest(path)


def test_missing_manifest(tmp_path):
    with pytest.raises(InputError, match="nope.json: cannot read manifest"):
        load_manifest(tmp_path / "nope.json")


def test_items_survive_load_decathlon_datalist(cohort_store, tmp_path):
    from monai.data import load_decathlon_datalist

    out = write_manifest(tmp_path / "m" / "demo.json", make_datalist(cohort_store, seed=0))
    ours = load_manifest(out)
    for split in SPLITS:
        theirs = load_decathlon_datalist(out, is_segmentation=True, data_list_key=split)
        assert theirs == ours[split]


# --- JSON Schema ------------------------------------------------------------------------------------------------
# jsonschema is not installed in the project's environment; when it is missing, the produced manifest is checked
# against data_manifests/schema.json by the small validator below, which implements exactly the keywords the
# schema uses (and fails on any other, so the schema cannot silently outgrow it).

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
}


def _validate(instance, schema, root, where="$"):
    errors = []
    handled = {"$schema", "title", "description", "$defs"}
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return _validate(instance, target, root, where)
    for keyword, value in schema.items():
        if keyword in handled:
            continue
        if keyword == "type":
            ok = isinstance(instance, _TYPES[value]) and not isinstance(instance, bool)
            errors += [] if ok else [f"{where}: not {value}"]
        elif keyword == "required":
            errors += [f"{where}: missing {k}" for k in value if k not in instance]
        elif keyword == "properties":
            for name, sub in value.items():
                if isinstance(instance, dict) and name in instance:
                    errors += _validate(instance[name], sub, root, f"{where}.{name}")
        elif keyword == "additionalProperties":
            extra = set(instance) - set(schema.get("properties", {})) if isinstance(instance, dict) else set()
            errors += [f"{where}: unexpected {sorted(extra)}"] if extra and value is False else []
        elif keyword == "items":
            for i, element in enumerate(instance if isinstance(instance, list) else []):
                errors += _validate(element, value, root, f"{where}[{i}]")
        elif keyword in {"minItems", "minLength"}:
            errors += [f"{where}: too short"] if len(instance) < value else []
        elif keyword == "maxItems":
            errors += [f"{where}: too long"] if len(instance) > value else []
        elif keyword == "minimum":
            errors += [f"{where}: below {value}"] if instance < value else []
        elif keyword == "maximum":
            errors += [f"{where}: above {value}"] if instance > value else []
        elif keyword == "enum":
            errors += [] if instance in value else [f"{where}: not in {value}"]
        elif keyword == "const":
            errors += [] if instance == value else [f"{where}: not {value!r}"]
        elif keyword == "pattern":
            errors += [] if re.search(value, instance) else [f"{where}: does not match {value}"]
        else:
            raise NotImplementedError(f"schema keyword {keyword!r} unknown to the test validator")
    return errors


def _schema_errors(instance) -> list[str]:
    schema = json.loads(SCHEMA_PATH.read_text())
    try:
        import jsonschema
    except ImportError:
        return _validate(instance, schema, schema)
    validator = jsonschema.Draft202012Validator(schema)
    return [error.message for error in validator.iter_errors(instance)]


def test_produced_manifest_matches_schema(cohort_store, tmp_path):
    out = write_manifest(tmp_path / "demo.json", make_datalist(cohort_store, seed=0, fractions=(0.6, 0.2, 0.2)))
    manifest = json.loads(out.read_text())
    assert _schema_errors(manifest) == []
    manifest["training"][0]["side"] = "up"
    manifest["validation"][0]["grades"] = [0, 1, 2]
    del manifest["test"]
    assert len(_schema_errors(manifest)) >= 3


def test_schema_and_checker_agree_on_required_fields():
    schema = json.loads(SCHEMA_PATH.read_text())
    from hipmonai.data.manifests import ITEM_FIELDS

    assert tuple(schema["required"]) == SPLITS
    assert tuple(schema["$defs"]["item"]["required"]) == ITEM_FIELDS
    assert Path(SCHEMA_PATH).with_name("README.md").is_file()


def test_load_datalist_refuses_an_empty_split_when_asked(cohort_store, tmp_path):
    out = write_manifest(tmp_path / "m.json", {**make_datalist(cohort_store, seed=1), "test": []})
    assert load_datalist(out, "test") == []
    with pytest.raises(InputError, match=r"m\.json: the test split is empty \(0 items\)"):
        load_datalist(out, "test", allow_empty=False)
    assert load_datalist(out, "training", allow_empty=False)


@pytest.fixture
def sized_manifest(tmp_path, make_cohort):
    """A manifest of a 3-subject store that records 64 px crops at 1.4 mm."""
    from hipmonai.data import write_store

    store = write_store(tmp_path / "sized.h5", make_cohort(3, seed=2), attrs={"spacing_mm": 1.4, "crop_px": 64})
    return write_manifest(tmp_path / "sized.json", make_datalist(store, seed=0))


@pytest.mark.parametrize("expected", [{}, {"crop_px": 64}, {"crop_px": 64, "spacing_mm": 89.6 / 64},
                                      {"spacing_mm": 1.4}])
def test_store_settings_match_what_the_config_expects(sized_manifest, expected):
    from hipmonai.data import store_settings

    assert store_settings(sized_manifest, **expected) == {"spacing_mm": 1.4, "crop_px": 64}


@pytest.mark.parametrize("expected, named", [
    ({"crop_px": 128}, r"holds 64 px crops at 1\.4 mm, but the config expects image_size_px 128 px at 1\.4 mm"),
    ({"crop_px": 64, "spacing_mm": 0.7},
     r"holds 64 px crops at 1\.4 mm, but .* 64 px at 0\.7 mm.*--crop 64 --spacing 0\.7"),
])
def test_store_settings_name_both_values_when_the_store_differs(sized_manifest, expected, named):
    from hipmonai.data import store_settings

    with pytest.raises(InputError, match=rf"sized\.h5: the store {named}"):
        store_settings(sized_manifest, **expected)
