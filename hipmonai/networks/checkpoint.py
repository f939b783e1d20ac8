"""Checkpoints that carry what built them: the one reader and loader of model weights in hipmonai.

A bundle's ``CheckpointSaver`` saves two items: ``"model"`` (the network's state dict) and ``"trained_with"``
(a :class:`TrainedWith`: the resolved settings the network and its input were built with — network widths, image
size, landmark count, ...). Loading checks the settings of the loading config against the saved ones and names
every difference, so a config that does not fit the weights is an error, never a silent run:

    .. code-block:: python

        network = load_checkpoint(UNet(...), "models/model.pt", trained_with={"image_size_px": 128, ...})

In a bundle config the same check runs through MONAI's ``CheckpointLoader`` with
``"load_dict": {"model": "@network", "trained_with": "@trained_with"}``, and inference configs read their sizes
from the checkpoint with :func:`trained_settings`.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from hipmonai.errors import InputError

__all__ = [
    "CheckpointMismatchError",
    "TrainedWith",
    "load_checkpoint",
    "load_config_network",
    "read_checkpoint",
    "save_checkpoint",
    "trained_settings",
]

#: key of the network's weights in a bundle checkpoint
MODEL_KEY = "model"
#: key of the :class:`TrainedWith` settings in a bundle checkpoint
SETTINGS_KEY = "trained_with"
_DDP_PREFIX = "module."


class CheckpointMismatchError(InputError):
    """The loading config's settings differ from those the checkpoint was trained with."""


def _plain(value: Any) -> Any:
    """``value`` as JSON-plain Python (tuples to lists, numpy/torch scalars to numbers) so that saved and current
    settings compare equal after a round trip through ``torch.save``/``torch.load(weights_only=True)``."""
    try:
        return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else list(v)))
    except (TypeError, ValueError) as err:
        raise TypeError(f"checkpoint settings must be JSON values (numbers, strings, lists, dicts), got "
                        f"{value!r}") from err


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def settings_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Readable differences ``"name: checkpoint X, config Y"`` for each setting of ``current`` that ``saved`` lacks
    or has another value for (settings only the checkpoint records are not compared); empty when all agree."""
    saved, current = _plain(dict(saved)), _plain(dict(current))
    return [f"{key}: checkpoint {saved[key]!r}, config {current[key]!r}" if key in saved
            else f"{key}: not recorded in the checkpoint, config {current[key]!r}"
            for key in sorted(current) if key not in saved or not _same(saved[key], current[key])]


class TrainedWith:
    """The settings a network and its input were built with, saved beside its weights and checked on load.

    It is a checkpoint item like a network or an optimizer: ``state_dict()`` gives the settings to save and
    ``load_state_dict(saved)`` raises :class:`CheckpointMismatchError` naming each of this object's settings that the
    checkpoint records with another value or not at all. MONAI's ``CheckpointSaver``/``CheckpointLoader`` handle it
    through their ``save_dict``/``load_dict``.

    Args:
        settings: ``{name: value}`` with JSON values (numbers, strings, lists, dicts, ``None``), e.g.
            ``{"image_size_px": 128, "n_landmarks": 28, "channels": [16, 32, 64]}``.
        checkpoint: a checkpoint to check these settings against right away (before any network is built from
            them, so that the error names the settings rather than a layer that cannot be built); a checkpoint
            without settings is not checked.

    Example::

        >>> saved = TrainedWith({"image_size_px": 128}).state_dict()
        >>> TrainedWith({"image_size_px": 256}).load_state_dict(saved)
        Traceback (most recent call last):
        ...
        hipmonai.networks.checkpoint.CheckpointMismatchError: ...image_size_px: checkpoint 128, config 256...
    """

    def __init__(self, settings: Mapping[str, Any], checkpoint: str | os.PathLike | None = None) -> None:
        if not isinstance(settings, Mapping):
            raise TypeError(f"settings must be a mapping of names to values, got {type(settings).__name__}")
        self.settings: dict[str, Any] = _plain(dict(settings))
        if checkpoint is not None:
            saved = _saved_settings(checkpoint)
            if saved is not None:
                self.load_state_dict(saved, source=str(checkpoint))

    def state_dict(self) -> dict[str, Any]:
        return dict(self.settings)

    def load_state_dict(self, state_dict: Mapping[str, Any], source: str = "the checkpoint") -> None:
        differences = settings_differences(state_dict, self.settings)
        if differences:
            raise CheckpointMismatchError(
                f"{source} was trained with other settings than this config: {'; '.join(differences)}. Use the "
                "config the checkpoint was trained with (the bundle's inference.json reads them from the checkpoint)"
            )


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """The network weights and the saved settings of a checkpoint (``torch.load(weights_only=True)``).

    Accepts a bundle checkpoint ``{"model": state_dict, "trained_with": settings}``, ``{"model": state_dict}``,
    ``{"state_dict": state_dict}`` and a bare state dict; a ``module.`` (DistributedDataParallel) prefix is removed
    from the weight names.

    Returns:
        ``(weights, settings)``, ``settings`` ``None`` when the checkpoint carries none.

    Raises:
        InputError: the file is missing, unreadable or holds no state dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a corrupt or foreign file
        raise InputError(f"{path}: cannot read the checkpoint ({type(err).__name__}: {err})") from err
    settings = None
    if isinstance(state, Mapping) and isinstance(state.get(MODEL_KEY), Mapping):
        settings = state.get(SETTINGS_KEY)
        state = state[MODEL_KEY]
    elif isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path}: not a checkpoint of network weights (a state dict of tensors)")
    weights = {(k[len(_DDP_PREFIX):] if k.startswith(_DDP_PREFIX) else k): v for k, v in state.items()}
    return weights, (dict(settings) if isinstance(settings, Mapping) else None)


@functools.lru_cache(maxsize=8)
def _settings_of_file(path: str, mtime_ns: int, size: int) -> str | None:
    settings = read_checkpoint(path)[1]
    return None if settings is None else json.dumps(settings)


def _saved_settings(path: str | os.PathLike) -> dict[str, Any] | None:
    """The settings a checkpoint records (``None``: none), read once per file version: an inference config asks for
    them twice (its sizes, then the check of its overrides) before the weights are loaded."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    stat = path.stat()
    text = _settings_of_file(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    return None if text is None else json.loads(text)


def save_checkpoint(network: torch.nn.Module, path: str | os.PathLike, settings: Mapping[str, Any]) -> Path:
    """Save ``network``'s weights with the settings it was built with, as a bundle's ``CheckpointSaver`` does.

    Returns:
        ``path``. A ``DistributedDataParallel``/``DataParallel`` wrapper is unwrapped first.
    """
    network = getattr(network, "module", network)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({MODEL_KEY: network.state_dict(), SETTINGS_KEY: TrainedWith(settings).state_dict()}, path)
    return path


def trained_settings(path: str | os.PathLike, names: Sequence[str] | None = None) -> dict[str, Any]:
    """The settings a checkpoint was trained with (``names``: the ones that must be there).

    Raises:
        InputError: unreadable checkpoint, no saved settings (trained before checkpoints carried them: retrain),
            or a name in ``names`` missing.
    """
    settings = _saved_settings(path)
    if settings is None:
        raise InputError(f"{path}: the checkpoint does not record the settings it was trained with (saved by an "
                         "older hipmonai); retrain it, or load it with load_checkpoint and explicit settings")
    missing = [n for n in names or () if n not in settings]
    if missing:
        raise InputError(f"{path}: the checkpoint's settings lack {missing} (it has {sorted(settings)})")
    return settings


def load_checkpoint(
    network: torch.nn.Module,
    path: str | os.PathLike,
    trained_with: TrainedWith | Mapping[str, Any] | None = None,
    exclude_prefixes: Sequence[str] = (),
) -> torch.nn.Module:
    """Load a checkpoint into ``network`` after checking its settings; the one weight loader of hipmonai.

    Args:
        network: the network built from the config (any ``torch.nn.Module``).
        path: a checkpoint (see :func:`read_checkpoint`).
        trained_with: the config's settings; when given and the checkpoint records settings, every difference is
            an error (a checkpoint without settings loads with the weight check only).
        exclude_prefixes: weight names starting with one of these are neither loaded nor required (e.g. the last
            layer when a landmark network is initialised from the ROI network).

    Returns:
        ``network``, modified in place.

    Raises:
        CheckpointMismatchError: the settings differ (each difference named).
        InputError: unreadable checkpoint, or a weight missing or of another shape than the network's (the first
            one named).
    """
    weights, saved = read_checkpoint(path)
    if trained_with is not None and saved is not None:
        own = trained_with if isinstance(trained_with, TrainedWith) else TrainedWith(trained_with)
        own.load_state_dict(saved, source=str(path))
    own_state = network.state_dict()
    wanted = [k for k in own_state if not k.startswith(tuple(exclude_prefixes))]
    missing = [k for k in wanted if k not in weights]
    if missing:
        raise InputError(f"{path}: the checkpoint lacks {len(missing)} weights of the network, e.g. {missing[0]!r}; "
                         "was it trained with the same network settings?")
    for key in wanted:
        if tuple(weights[key].shape) != tuple(own_state[key].shape):
            raise InputError(f"{path}: weight {key!r} has shape {tuple(weights[key].shape)}, the network "
                             f"{tuple(own_state[key].shape)}; was it trained with the same network settings?")
    unexpected = [k for k in weights if k not in own_state and not k.startswith(tuple(exclude_prefixes))]
    if unexpected:
        raise InputError(f"{path}: the checkpoint has {len(unexpected)} weights the network lacks, e.g. "
                         f"{unexpected[0]!r}; was it trained with the same network settings?")
    network.load_state_dict({k: weights[k] for k in wanted}, strict=not exclude_prefixes)
    return network


def load_config_network(parser: Any, checkpoint: str | os.PathLike, network_id: str = "network_def") -> torch.nn.Module:
    """A bundle config's network with a checkpoint loaded into it, checked against the config's ``trained_with``.

    The config's ``ckpt_path`` is set to ``checkpoint`` first, so that an inference config reading its settings
    from the checkpoint (:func:`trained_settings` of ``@ckpt_path``) reads this one.

    Args:
        parser: a ``monai.bundle.ConfigParser`` holding the bundle's configs (and overrides).
        checkpoint: the checkpoint file.
        network_id: the config id of the network definition.

    Raises:
        CheckpointMismatchError, InputError: as :func:`load_checkpoint`.
    """
    parser["ckpt_path"] = str(checkpoint)
    if "trained_with" in parser:  # checked before the network is built from the same settings
        TrainedWith(parser.get_parsed_content("trained_with#settings"), checkpoint)
    return load_checkpoint(parser.get_parsed_content(network_id), checkpoint)
