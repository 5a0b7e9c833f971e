"""``build_model``: one entry point that turns a ModelConfig into a network, by family.

A family registers once, in its config class (``codesign.snn._config``): the class names
its builder (``ModelBase.builder``, ``"<module>:<function>"``) and says how large its spikes
get (``ModelBase.spike_levels``). :data:`BUILDERS` and :data:`SPIKE_LEVELS` are read-only views
of the shipped families, derived from those classes. Every built model keeps the forward
contract of docs/models.md, and holds parameters only in layers codesign quantises and
traces (:func:`codesign.snn._synapse.check_layers`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import MappingProxyType

from torch import nn

from codesign.snn._config import FAMILY_CONFIGS, Head, ModelBase, ModelConfig
from codesign.snn._synapse import check_layers

Builder = Callable[[ModelConfig, int, int, Head], nn.Module]


def builder_of(cls: type[ModelBase]) -> Builder:
    """The builder a family's config class names (imported on first use).

    Raises:
        ValueError: the class names none, or a name that is not a function.
    """
    module_name, _, function = cls.builder.partition(":")
    if not module_name or not function:
        raise ValueError(f"{cls.__name__}.builder must be '<module>:<function>', got {cls.builder!r}")
    builder = getattr(importlib.import_module(module_name), function, None)
    if not callable(builder):
        raise ValueError(f"{cls.__name__}.builder {cls.builder!r} names no function")
    built: Builder = builder
    return built


#: Builder per shipped ``ModelConfig.family`` (read-only, from each config class's ``builder``).
BUILDERS: MappingProxyType[str, Builder] = MappingProxyType(
    {family: builder_of(cls) for family, cls in FAMILY_CONFIGS.items()}
)


def _spike_levels(cfg: ModelConfig) -> int:
    return cfg.spike_levels


#: The largest spike level a config of each shipped family emits (0 when it does not spike):
#: the Spikeformer and Mamba spike through their neurons (IMLS: D, LIF: 1), the SRNN through its
#: multi-bit quantiser (2^b - 1). Read-only; each config class's ``spike_levels``.
SPIKE_LEVELS: MappingProxyType[str, Callable[[ModelConfig], int]] = MappingProxyType(
    {family: _spike_levels for family in FAMILY_CONFIGS}
)


def build_model(cfg: ModelConfig, n_features: int, n_outputs: int, head: Head) -> nn.Module:
    """Build the network ``cfg`` describes.

    Args:
        cfg: the model config; its class names the builder (``ModelBase.builder``).
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
    if not type(cfg).builder:
        raise ValueError(f"no builder for family {cfg.family!r}; known: {sorted(BUILDERS)}")
    net = builder_of(type(cfg))(cfg, n_features, n_outputs, head)
    check_layers(net)
    return net


def spike_levels_of(cfg: ModelConfig) -> int:
    """The largest spike level ``cfg``'s network emits (D for IMLS, 1 for LIF, ``2^b − 1`` for the
    SRNN's b-bit quantised outputs, 0 non-spiking): its config's ``spike_levels``.

    Raises:
        ValueError: a family that does not say.
    """
    return cfg.spike_levels
