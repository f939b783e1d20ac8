"""Networks: ResNet-18 with CAM and multitask heads (Chen et al.; Ye et al. 2026), KNEEL
hourglass with soft-argmax (Tiulpin et al. 2019)."""

from __future__ import annotations

from hipmonai.networks.checkpoint import (
    CheckpointMismatchError,
    TrainedWith,
    load_checkpoint,
    load_config_network,
    read_checkpoint,
    save_checkpoint,
    trained_settings,
)
from hipmonai.networks.hourglass import (
    UPSAMPLE_MODES,
    HMPBlock,
    Hourglass,
    KneelHourglassNet,
    check_input_size,
    min_input_size,
)
from hipmonai.networks.multitask_resnet import (
    MultitaskResNet18,
    ordinal_output_index,
    predicted_grades,
    split_multitask_logits,
)
from hipmonai.networks.resnet_cam import (
    BACKBONE_PREFIXES,
    RESNET18_LAYERS,
    ResNet18Backbone,
    ResNet18CAM,
    class_activation_maps,
    load_torchvision_resnet18_weights,
)
from hipmonai.networks.soft_argmax import (
    GRIDS,
    SoftArgmax2D,
    coordinate_grid,
    normalized_to_pixels,
    pixels_to_normalized,
    soft_argmax_2d,
    spatial_softmax,
)

__all__ = [
    "CheckpointMismatchError",
    "TrainedWith",
    "load_checkpoint",
    "load_config_network",
    "read_checkpoint",
    "save_checkpoint",
    "trained_settings",
    "BACKBONE_PREFIXES",
    "GRIDS",
    "RESNET18_LAYERS",
    "UPSAMPLE_MODES",
    "HMPBlock",
    "Hourglass",
    "KneelHourglassNet",
    "MultitaskResNet18",
    "ResNet18Backbone",
    "ResNet18CAM",
    "SoftArgmax2D",
    "check_input_size",
    "class_activation_maps",
    "coordinate_grid",
    "load_torchvision_resnet18_weights",
    "min_input_size",
    "normalized_to_pixels",
    "ordinal_output_index",
    "pixels_to_normalized",
    "predicted_grades",
    "soft_argmax_2d",
    "spatial_softmax",
    "split_multitask_logits",
]
