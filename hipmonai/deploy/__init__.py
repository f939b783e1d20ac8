"""Deployment: one radiograph through the landmark and osteophyte bundles (:mod:`hipmonai.deploy.hip_analysis`),
the result as a DICOM Comprehensive SR (:mod:`hipmonai.deploy.sr`), and the MONAI Deploy application
(:mod:`hipmonai.deploy.app`, needs ``monai-deploy-app-sdk``)."""

from __future__ import annotations

from hipmonai.deploy.hip_analysis import CHECKPOINT_NAMES, HipAnalysis, HipRadiographAnalyzer, RadiographAnalysis

__all__ = ["CHECKPOINT_NAMES", "HipAnalysis", "HipRadiographAnalyzer", "RadiographAnalysis"]
