"""MONAI Deploy application: a DICOM DX/CR study in, one Comprehensive SR per radiograph out.

Pipeline (MONAI Deploy App SDK 4, Holoscan)::

    DICOMDataLoaderOperator -> DICOMSeriesSelectorOperator (Modality DX or CR)
        -> HipAnalysisOperator (hipmonai.deploy.HipRadiographAnalyzer on every selected instance)
        -> HipSRWriterOperator (hipmonai.deploy.sr.write_hip_sr)

Run (``-i`` a folder of DICOM files, ``-o`` where the SR files go, ``-m`` the models folder)::

    ulimit -s 32768     # Holoscan warns below a 32 MB stack
    python -m hipmonai.deploy.app -i DICOM_DIR -o OUT_DIR -m MODELS_DIR

``MODELS_DIR`` holds ``hip_landmark_labelaug.pt``, ``hip_osteophyte_prior.pt`` and ``hip_osteophyte_grading.pt``
(the bundles' ``model.pt`` files). Each checkpoint records the settings it was trained with, so the networks and the
hip crops need no configuration; optionally ``models.json`` adds bundle config files and overrides, e.g.
``{"prior": {"configs": [...], "overrides": {...}}, "crop": {"spacing_mm": 0.4, "crop_px": 224}}`` (keys
``landmarks``, ``prior``, ``grading``, ``crop``); a setting that disagrees with a checkpoint is an error naming it.
The SR files are named after the analysed image's ``source_uid_hash`` (no identifying value in file names), and
``analysis.json`` beside them lists every result. Patient and study attributes are not copied into the SR unless
``HIPMONAI_SR_COPY_PATIENT=1`` is set (PACS filing; see :mod:`hipmonai.deploy.sr`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from monai.deploy.conditions import CountCondition
from monai.deploy.core import AppContext, Application, Fragment, Operator, OperatorSpec
from monai.deploy.operators import DICOMDataLoaderOperator, DICOMSeriesSelectorOperator

from hipmonai.deploy.hip_analysis import CHECKPOINT_NAMES
from hipmonai.errors import InputError

__all__ = ["CHECKPOINT_NAMES", "HipAnalysisOperator", "HipOsteoarthritisApp", "HipSRWriterOperator",
           "load_models_folder"]

logger = logging.getLogger(__name__)

XRAY_RULES = json.dumps({"selections": [{"name": "radiographs", "conditions": {"Modality": "(?i)^(DX|CR)$"}}]})


def load_models_folder(models_dir: str | os.PathLike, device: str = "cpu") -> Any:
    """A :class:`~hipmonai.deploy.HipRadiographAnalyzer` from a models folder (see the module docstring).

    Raises:
        InputError: a checkpoint is missing or ``models.json`` is malformed.
    """
    from hipmonai.deploy.hip_analysis import HipRadiographAnalyzer

    folder = Path(models_dir)
    settings: dict[str, Any] = {}
    if (folder / "models.json").is_file():
        try:
            settings = json.loads((folder / "models.json").read_text(encoding="utf-8"))
        except ValueError as err:
            raise InputError(f"{folder / 'models.json'}: not valid JSON ({err})") from err
    models = {key: folder / name for key, name in CHECKPOINT_NAMES.items()}
    missing = [str(p) for p in models.values() if not p.is_file()]
    if missing:
        raise InputError(f"models folder {folder}: missing {missing}")
    crop = settings.get("crop", {})
    return HipRadiographAnalyzer.from_bundles(
        models,
        configs={k: v["configs"] for k, v in settings.items() if isinstance(v, dict) and "configs" in v},
        overrides={k: v["overrides"] for k, v in settings.items() if isinstance(v, dict) and "overrides" in v},
        device=device,
        spacing_mm=crop.get("spacing_mm"),
        crop_px=crop.get("crop_px"),
    )


class HipAnalysisOperator(Operator):
    """Runs the analyser on every instance of the selected DX/CR series.

    Named input:
        study_selected_series_list: the selector's ``list[StudySelectedSeries]``.
    Named output:
        analyses: ``list[tuple[pydicom.Dataset, RadiographAnalysis | None, str | None]]``: the instance header,
            its analysis, and the reason when it could not be analysed.
    """

    def __init__(self, fragment: Fragment, *args, models_dir: Path, **kwargs) -> None:
        self.models_dir = Path(models_dir)
        self.analyzer = None
        super().__init__(fragment, *args, **kwargs)

    def setup(self, spec: OperatorSpec) -> None:
        spec.input("study_selected_series_list")
        spec.output("analyses")

    def compute(self, op_input, op_output, context) -> None:
        if self.analyzer is None:
            self.analyzer = load_models_folder(self.models_dir)
        analyses = []
        for selected in op_input.receive("study_selected_series_list") or []:
            for series in selected.selected_series:
                for instance in series.series.get_sop_instances():
                    dataset = instance.get_native_sop_instance()
                    path = getattr(dataset, "filename", None)
                    try:
                        if not path:
                            raise InputError("the DICOM instance has no file to read")
                        analyses.append((dataset, self.analyzer.analyze_file(path), None))
                    except InputError as err:
                        # the reason must not carry the file path (exports often name files after the patient)
                        reason = str(err)
                        if path:
                            reason = reason.replace(str(path), "<image>").replace(Path(path).name, "<image>")
                        logger.warning("not analysed: %s", reason)
                        analyses.append((dataset, None, reason))
        op_output.emit(analyses, "analyses")


class HipSRWriterOperator(Operator):
    """Writes one Comprehensive SR per analysed radiograph and ``analysis.json`` (no identifying values).

    Named input:
        analyses: :class:`HipAnalysisOperator`'s output.
    """

    def __init__(self, fragment: Fragment, *args, output_folder: Path, copy_patient_module: bool = False,
                 **kwargs) -> None:
        self.output_folder = Path(output_folder)
        self.copy_patient_module = bool(copy_patient_module)
        super().__init__(fragment, *args, **kwargs)

    def setup(self, spec: OperatorSpec) -> None:
        spec.input("analyses")

    def compute(self, op_input, op_output, context) -> None:
        from hipmonai.deploy.sr import write_hip_sr

        self.output_folder.mkdir(parents=True, exist_ok=True)
        summary = []
        for dataset, analysis, reason in op_input.receive("analyses"):
            if analysis is None:
                summary.append({"analysed": False, "reason": reason})
                continue
            path = write_hip_sr(analysis, dataset, self.output_folder / f"hip_sr_{analysis.source_uid_hash}.dcm",
                                copy_patient_module=self.copy_patient_module)
            summary.append({"analysed": True, "sr": path.name, **analysis.as_dict()})
            logger.info("wrote %s", path.name)
        (self.output_folder / "analysis.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


class HipOsteoarthritisApp(Application):
    """DICOM DX/CR study -> hip landmarks, femoral heads, osteophyte probabilities and grades as DICOM SR."""

    name = "hipmonai_hip_osteoarthritis"
    description = "Hip landmarks, femoral head circles, osteophyte scores and OARSI grades as DICOM Comprehensive SR"
    version = "0.1.0"

    def compose(self) -> None:
        context: AppContext = Application.init_app_context(self.argv)
        loader = DICOMDataLoaderOperator(self, CountCondition(self, 1), input_folder=Path(context.input_path),
                                         name="loader")
        selector = DICOMSeriesSelectorOperator(self, rules=XRAY_RULES, all_matched=True, name="selector")
        analysis = HipAnalysisOperator(self, models_dir=Path(context.model_path), name="analysis")
        writer = HipSRWriterOperator(self, output_folder=Path(context.output_path),
                                     copy_patient_module=os.environ.get("HIPMONAI_SR_COPY_PATIENT") == "1",
                                     name="sr_writer")
        self.add_flow(loader, selector, {("dicom_study_list", "dicom_study_list")})
        self.add_flow(selector, analysis, {("study_selected_series_list", "study_selected_series_list")})
        self.add_flow(analysis, writer, {("analyses", "analyses")})


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    HipOsteoarthritisApp().run()


if __name__ == "__main__":
    main()
