"""``build_model``: one entry point that turns a ModelConfig into a network, by family.

Each family registers its builder in :data:`BUILDERS` with one line. Every built model keeps
the forward contract of docs/models.md.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import MappingProxyType
from typing import Literal

from torch import nn

from codesign.snn._config import ModelConfig
from codesign.snn._mamba import build_mamba
from codesign.snn._spikeformer import build_spikeformer
from codesign.snn._srnn import build_srnn

Head = Literal["classify", "ctc"]
Builder = Callable[[ModelConfig, int, int, Head], nn.Module]

#: Builder per ``ModelConfig.family`` (read-only; add a family with one line here).
BUILDERS: MappingProxyType[str, Builder] = MappingProxyType(
    {
        "spikeformer": build_spikeformer,
        "mamba": build_mamba,
        "srnn": build_srnn,
    }
)


def build_model(cfg: ModelConfig, n_features: int, n_outputs: int, head: Head) -> nn.Module:
    """Build the network ``cfg`` describes.

    Args:
        cfg: the model config; ``cfg.family`` picks the builder.
        n_features: input features per frame.
        n_outputs: classes (``classify``) or CTC tokens with the blank at 0 (``ctc``).
        head: ``"classify"`` or ``"ctc"``.

    Raises:
        ValueError: no builder for the family, bad sizes, or a variant the builder refuses.
    """
    if n_features < 1 or n_outputs < 1:
        raise ValueError(f"n_features and n_outputs >= 1, got {n_features}, {n_outputs}")
    if head not in ("classify", "ctc"):
        raise ValueError(f"head 'classify' or 'ctc', got {head!r}")
    builder = BUILDERS.get(cfg.family)
    if builder is None:
        raise ValueError(f"no builder for family {cfg.family!r}; known: {sorted(BUILDERS)}")
    return builder(cfg, n_features, n_outputs, head)


def fuse_model(model: nn.Module, copy_first: bool = True) -> nn.Module:
    """The inference form of ``model``: every ``fuse()`` applied (on a deep copy by default), eval mode."""
    target = copy.deepcopy(model) if copy_first else model
    fuse = getattr(target, "fuse", None)
    if callable(fuse):
        fuse()
    else:
        for module in target.modules():
            if module is not target and callable(getattr(module, "fuse", None)):
                module.fuse()
    return target.eval()
