"""``build_model``: one entry point that turns a ModelConfig into a network, by family.

Each family registers its builder in :data:`BUILDERS` and how large its spikes get in
:data:`SPIKE_LEVELS`, one line each. Every built model keeps the forward contract of
docs/models.md.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from torch import nn

from codesign.snn._config import Head, ModelConfig
from codesign.snn._mamba import build_mamba
from codesign.snn._neurons import neuron_spike_levels
from codesign.snn._spikeformer import build_spikeformer
from codesign.snn._srnn import build_srnn, srnn_spike_levels
from codesign.snn._synapse import check_layers

Builder = Callable[[ModelConfig, int, int, Head], nn.Module]

#: Builder per ``ModelConfig.family`` (read-only; add a family with one line here).
BUILDERS: MappingProxyType[str, Builder] = MappingProxyType(
    {
        "spikeformer": build_spikeformer,
        "mamba": build_mamba,
        "srnn": build_srnn,
    }
)

#: The largest spike level a config of each family emits (0 when it does not spike): the
#: Spikeformer and Mamba spike through their neurons (IMLS: D, LIF: 1), the SRNN through its
#: multi-bit quantiser (2^b - 1).
SPIKE_LEVELS: MappingProxyType[str, Callable[[ModelConfig], int]] = MappingProxyType(
    {
        "spikeformer": neuron_spike_levels,
        "mamba": neuron_spike_levels,
        "srnn": srnn_spike_levels,
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
        UnsupportedLayer: the network holds parameters in a layer codesign would neither
            quantise nor trace (``codesign.snn._synapse.check_layers``).
    """
    if n_features < 1 or n_outputs < 1:
        raise ValueError(f"n_features and n_outputs >= 1, got {n_features}, {n_outputs}")
    if head not in ("classify", "ctc"):
        raise ValueError(f"head 'classify' or 'ctc', got {head!r}")
    builder = BUILDERS.get(cfg.family)
    if builder is None:
        raise ValueError(f"no builder for family {cfg.family!r}; known: {sorted(BUILDERS)}")
    net = builder(cfg, n_features, n_outputs, head)
    check_layers(net)
    return net


def spike_levels_of(cfg: ModelConfig) -> int:
    """The largest spike level ``cfg``'s network emits (D for IMLS, 1 for LIF, ``2^b − 1`` for the
    SRNN's b-bit quantised outputs, 0 non-spiking), by family through :data:`SPIKE_LEVELS`.

    Raises:
        ValueError: no entry for the family.
    """
    levels = SPIKE_LEVELS.get(cfg.family)
    if levels is None:
        raise ValueError(f"no spike levels for family {cfg.family!r}; known: {sorted(SPIKE_LEVELS)}")
    return levels(cfg)
