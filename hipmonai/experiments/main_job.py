"""The main job: phantom cohorts → preprocessing → the four bundles trained and evaluated → one report.

:func:`main_job_steps` builds the graph of documented commands that ``hipmonai demo`` runs with
:func:`hipmonai.experiments.step_runner.run_steps`; every training is ``python -m monai.bundle run`` with the bundle's
own ``train.json`` + ``demo.json`` and a few overrides that shrink it to the main job's time budget
(:class:`MainJobScale`), every evaluation is the bundle's own ``hipmonai`` command. The folder layout under ``out``::

    cohorts/hip, cohorts/knee        phantom DICOM + .pts + grades (+ lesion masks, truth.csv)
    data/hip.h5, data/hip_split.json the HDF5 store and its subject-level split (prior, grading)
    data/pelvis, data/knee           landmark caches (label augmentation, KNEEL)
    prior/{baseline,prior,report}    grading/{masked,report}    labelaug/{model,eval}    knee/{model,eval}
    logs/, steps/                    one log and one stamp per step
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from hipmonai.experiments.bundle import bundle_parser
from hipmonai.experiments.step_runner import Step
from hipmonai.paths import bundle_templates_dir

__all__ = ["SCALES", "MainJobScale", "main_job_steps"]


@dataclass(frozen=True)
class MainJobScale:
    """Sizes of the main job; the defaults fit 15 minutes on two CPU cores (see the README's measured time).

    The bundles' own ``demo.json`` files are larger (their READMEs report those runs); the main job shortens
    training further so the whole pipeline, all four methods, runs in one sitting.
    """

    hip_subjects: int = 300
    knee_subjects: int = 100
    prior_epochs: int = 6
    grading_epochs: int = 8
    grading_n_strong: int = 60
    labelaug_size_px: int = 128
    labelaug_every_epochs: int = 4
    detector_subjects: int = 300
    knee_roi_epochs: int = 15
    knee_landmark_epochs: int = 16
    knee_width: int = 8
    tiny_networks: bool = False
    batch_size: int | None = None


#: ``demo``: the README's main job. ``smoke``: a few subjects, one epoch and narrow networks, for the tests.
SCALES = {
    "demo": MainJobScale(),
    "smoke": MainJobScale(hip_subjects=12, knee_subjects=8, prior_epochs=1, grading_epochs=1, grading_n_strong=4,
                          labelaug_size_px=64, labelaug_every_epochs=1, detector_subjects=12,
                          knee_roi_epochs=1, knee_landmark_epochs=1,
                          knee_width=4, tiny_networks=True, batch_size=2),
}


#: phantom parameters of the landmark detector's cohort (``hipmonai phantoms hip --set``)
DETECTOR_COHORT = ("paediatric_fraction=0.3", "single_hip_fraction=0.1", "mesh_anatomy_fraction=0.7")


def _bundle_run(configs: list[str], overrides: dict[str, object]) -> tuple[str, ...]:
    """``python -m monai.bundle run`` with the bundle's configs and ``--id value`` overrides."""
    listed = "[" + ",".join(f"'{c}'" for c in configs) + "]"
    argv = ["python", "-m", "monai.bundle", "run", "--config_file", listed, "--meta_file", "configs/metadata.json",
            "--logging_file", "configs/logging.conf"]
    for key, value in overrides.items():
        argv += [f"--{key}", str(value)]
    return tuple(argv)


def _sets(overrides: dict[str, object]) -> list[str]:
    """``--set ID=VALUE ...`` for the ``hipmonai`` bundle commands (values as JSON when they are not strings)."""
    import json

    def text(value: object) -> str:
        return value if isinstance(value, str) else str(value) if isinstance(value, Path) else json.dumps(value)

    return ["--set", *(f"{key}={text(value)}" for key, value in overrides.items())]


def main_job_steps(out: str | os.PathLike, scale: MainJobScale | None = None, seed: int = 0,
                   workers: int = 1) -> list[Step]:
    """The main job's steps, in a topological order, with absolute paths under ``out``.

    Args:
        out: the job folder.
        scale: sizes (default :data:`SCALES` ``["demo"]``).
        seed: seed of the cohorts and of the subject-level splits.
        workers: worker processes of the cohort generation and preprocessing steps.
    """
    scale = scale or SCALES["demo"]
    out = Path(out).resolve()
    bundles = bundle_templates_dir()  # the packaged templates; bundle steps run from them, the others from out
    hip, knee = out / "cohorts" / "hip", out / "cohorts" / "knee"
    data = out / "data"
    store, split = data / "hip.h5", data / "hip_split.json"
    hipmonai = ["python", "-m", "hipmonai"]
    tiny_resnet = {"widen_factor": 0.125} if scale.tiny_networks else {}
    batch = {} if scale.batch_size is None else {"batch_size": scale.batch_size}
    steps: list[Step] = []

    def add(name: str, title: str, argv, deps=(), cwd: Path = out, epochs: int | None = None) -> None:
        steps.append(Step(name, title, tuple(str(a) for a in argv), cwd, tuple(deps), epochs))

    # data
    add("hip_cohort", f"generate {scale.hip_subjects} phantom hip subjects",
        [*hipmonai, "phantoms", "hip", "--out", hip, "--subjects", scale.hip_subjects, "--seed", seed,
         "--workers", workers, "--overwrite", "--quiet"])
    add("knee_cohort", f"generate {scale.knee_subjects} phantom knee subjects",
        [*hipmonai, "phantoms", "knee", "--out", knee, "--subjects", scale.knee_subjects, "--seed", seed,
         "--workers", workers, "--overwrite", "--quiet"])
    add("hip_store", "preprocess the hip cohort into the HDF5 store (0.4 mm, 224 px femoral-head crops)",
        [*hipmonai, "preprocess", "--dicom", hip / "dicom", "--landmarks", hip / "landmarks", "--grades",
         hip / "grades.csv", "--lesions", hip / "lesions", "--out", store, "--workers", workers, "--overwrite",
         "--quiet"], deps=["hip_cohort"])
    add("hip_split", "subject-level 70/15/15 split of the store",
        [*hipmonai, "split", "--h5", store, "--out", split, "--seed", seed, "--overwrite"], deps=["hip_store"])
    # the landmark detector learns from its own cohort: adults and children, bilateral and single-hip views, most
    # of them with real bone shapes (mesh anatomy)
    detector = out / "cohorts" / "hip_detector"
    add("detector_cohort", f"generate {scale.detector_subjects} phantom pelvis subjects for the landmark detector "
        "(30 % children, 10 % single-hip views, 70 % mesh anatomy)",
        [*hipmonai, "phantoms", "hip", "--out", detector, "--subjects", scale.detector_subjects, "--seed", seed + 1,
         "--workers", workers, "--overwrite", "--quiet", "--set", *DETECTOR_COHORT])
    add("pelvis_cache", f"landmark cache for label augmentation ({scale.labelaug_size_px} px)",
        [*hipmonai, "labelaug", "prepare", "--dicom", detector / "dicom", "--landmarks", detector / "landmarks",
         "--out", data / "pelvis", "--size", scale.labelaug_size_px, "--seed", seed, "--quiet"],
        deps=["detector_cohort"])
    add("knee_cache", "ROI and landmark caches for KNEEL (2 mm ROI, 1 mm landmark crops)",
        [*hipmonai, "knee", "prepare", "--dicom", knee / "dicom", "--landmarks", knee / "landmarks", "--grades",
         knee / "grades.csv", "--out", data / "knee", "--demo", "--seed", seed, "--quiet"], deps=["knee_cohort"])

    # hip_osteophyte_prior: baseline and prior from the same configs, then the Grad-CAM report
    prior_bundle, prior_configs = bundles / "hip_osteophyte_prior", ["configs/train.json", "configs/demo.json",
                                                                     "configs/demo_224.json"]
    prior_common = {"datalist": split, "max_epochs": scale.prior_epochs, **tiny_resnet, **batch}
    for arm, extra in (("baseline", {"lambda_prior": 0}), ("prior", {})):
        run_dir = out / "prior" / arm
        add(f"prior_{arm}", f"hip_osteophyte_prior: train the {arm}",
            _bundle_run(prior_configs, {**prior_common, **extra, "ckpt_dir": run_dir, "output_dir": run_dir}),
            deps=["hip_split"], cwd=prior_bundle, epochs=scale.prior_epochs)
    add("prior_report", "hip_osteophyte_prior: Grad-CAM evaluation and paired tests",
        [*hipmonai, "prior", "report", "--bundle", prior_bundle, "--config", *prior_configs, *_sets(prior_common),
         "--baseline", out / "prior" / "baseline" / "model.pt", "--prior", out / "prior" / "prior" / "model.pt",
         "--out", out / "prior" / "report"], deps=["prior_baseline", "prior_prior"])

    # hip_osteophyte_grading: masked supervision with every weak label
    grading_bundle, grading_configs = bundles / "hip_osteophyte_grading", ["configs/train.json", "configs/demo.json"]
    grading_common = {"datalist": split, "image_size_px": 224, "n_strong": scale.grading_n_strong,
                      "max_epochs": scale.grading_epochs, **tiny_resnet, **batch}
    run_dir = out / "grading" / "masked"
    add("grading_masked", "hip_osteophyte_grading: train masked supervision, rho = all",
        _bundle_run(grading_configs, {**grading_common, "ckpt_dir": run_dir, "output_dir": run_dir}),
        deps=["hip_split"], cwd=grading_bundle, epochs=scale.grading_epochs)
    add("grading_report", "hip_osteophyte_grading: kappa, confusion matrices, per-head Grad-CAM",
        [*hipmonai, "grading", "report", "--bundle", grading_bundle, "--config", *grading_configs,
         *_sets(grading_common), "--model", f"Masked (all)={run_dir / 'model.pt'}", "--out",
         out / "grading" / "report"], deps=["grading_masked"])

    # hip_landmark_labelaug: dilation-erosion curriculum, one epoch per stage
    labelaug_bundle, labelaug_configs = bundles / "hip_landmark_labelaug", ["configs/train.json", "configs/demo.json"]
    labelaug_common = {"dataset_dir": data / "pelvis", "image_size_px": scale.labelaug_size_px,
                       "dilation_every_epochs": scale.labelaug_every_epochs, **batch}
    if scale.tiny_networks:
        labelaug_common["channels"] = [4, 8, 16, 32, 64]
    run_dir = out / "labelaug" / "model"
    # the curriculum's length as the bundle computes it (its max_epochs expression), for the progress lines
    labelaug_epochs = int(bundle_parser(labelaug_bundle, labelaug_configs, labelaug_common).get_parsed_content(
        "max_epochs"))
    add("labelaug_train", "hip_landmark_labelaug: train with the label curriculum",
        _bundle_run(labelaug_configs, {**labelaug_common, "ckpt_dir": run_dir, "output_dir": run_dir}),
        deps=["pelvis_cache"], cwd=labelaug_bundle, epochs=labelaug_epochs)
    add("labelaug_eval", "hip_landmark_labelaug: landmark errors and femoral head circles on the DICOM files",
        [*hipmonai, "labelaug", "evaluate", "--bundle", labelaug_bundle, "--config", "configs/inference.json",
         "configs/demo.json", *_sets(labelaug_common),
         "--checkpoint", run_dir / "model.pt", "--truth", detector / "truth.csv", "--out", out / "labelaug" / "eval"],
        deps=["labelaug_train"])

    # knee_landmark_kneel: ROI stage, then the landmark stage initialised from it, then the two-stage pipeline. Both
    # stages train with MixUp as the authors' released code computes it: Eq. 9 as printed halves the phantoms' PCK
    # (bundle README, Table 1 ablation)
    knee_bundle, knee_configs = bundles / "knee_landmark_kneel", ["configs/train.json", "configs/demo.json"]
    knee_common = {"dataset_dir": data / "knee", "width": scale.knee_width, "ckpt_dir": out / "knee" / "model", **batch}
    knee_train = {**knee_common, "mixup_weight_by": "released_code", "domain_randomisation": False}
    add("knee_roi", "knee_landmark_kneel: train the ROI stage",
        _bundle_run([knee_configs[0], "configs/roi.json", knee_configs[1]],
                    {**knee_train, "max_epochs": scale.knee_roi_epochs, "output_dir": out / "knee" / "roi"}),
        deps=["knee_cache"], cwd=knee_bundle, epochs=scale.knee_roi_epochs)
    add("knee_landmarks", "knee_landmark_kneel: train the landmark stage from the ROI model",
        _bundle_run(knee_configs, {**knee_train, "max_epochs": scale.knee_landmark_epochs,
                                   "output_dir": out / "knee" / "landmarks"}),
        deps=["knee_roi"], cwd=knee_bundle, epochs=scale.knee_landmark_epochs)
    add("knee_eval", "knee_landmark_kneel: two-stage pipeline PCK and error curves",
        [*hipmonai, "knee", "evaluate", "--bundle", knee_bundle, "--config", "configs/inference.json",
         "configs/demo.json", *_sets(knee_common),
         "--out", out / "knee" / "eval"], deps=["knee_landmarks"])

    # the four trained bundles as complete, shareable bundle folders (what `hipmonai predict` uses by default)
    exports = [("prior", "hip_osteophyte_prior", out / "prior" / "prior" / "model.pt", [],
                out / "prior" / "report" / "results.json", "prior_report"),
               ("grading", "hip_osteophyte_grading", out / "grading" / "masked" / "model.pt", [],
                out / "grading" / "report" / "results.json", "grading_report"),
               ("labelaug", "hip_landmark_labelaug", out / "labelaug" / "model" / "model.pt", [],
                out / "labelaug" / "eval" / "results.json", "labelaug_eval"),
               ("knee", "knee_landmark_kneel", out / "knee" / "model" / "model.pt",
                ["--roi-checkpoint", out / "knee" / "model" / "model_roi.pt"], out / "knee" / "eval" / "results.json",
                "knee_eval")]
    for short, name, checkpoint, extra, metrics, evaluated in exports:
        add(f"{short}_export", f"{name}: export the trained bundle to bundles/{name}",
            [*hipmonai, "bundle", "export", name, "--checkpoint", checkpoint, *extra, "--metrics", metrics,
             "--out", out / "bundles" / name, "--overwrite"], deps=[evaluated])
    return steps


def scale_summary(scale: MainJobScale) -> dict[str, object]:
    """The scale as a plain dict, for the report."""
    return asdict(scale)
