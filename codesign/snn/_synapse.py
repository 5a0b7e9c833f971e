"""What a synaptic layer is: the one decision that quantisation, pruning, QAT and tracing read.

Owns :data:`SYNAPSES` (per torch layer type: how its weights are stored on a chip and how the
trace sees it), :data:`NOT_SYNAPTIC` (layer types that hold parameters a chip folds into
neuron registers: norms), :func:`synaptic_weights`, :func:`hooked_synapses` and
:func:`check_layers`, which refuses a network holding parameters in a layer of no listed type,
so a family built from another layer type is refused loudly instead of being left float and
untraced. :func:`build_model` checks every network it builds.

A module of a family that keeps parameters of its own which are not synaptic weights (a
learnt threshold, a scan's decay) names them in ``non_synaptic_parameters``; the trace sees
them through the module's own ``probe_op`` reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from torch import nn
from torch.nn.utils.parametrize import ParametrizationList

__all__ = [
    "NOT_SYNAPTIC",
    "SYNAPSES",
    "Synapse",
    "UnsupportedLayer",
    "check_layers",
    "holds_hidden_state",
    "hooked_synapses",
    "is_synaptic",
    "synaptic_weights",
]


@dataclass(frozen=True)
class Synapse:
    """How one torch layer type holds synaptic weights.

    Attributes:
        weights: the parameter names that are synaptic weights (quantised on a chip's grid);
            None: every parameter of the layer whose name starts with ``weight_`` (torch RNNs).
        traced: ``"hooked"``: the trace recorder records every call with a forward hook (its
            kind from the layer type); ``"reported"``: the family module wrapping it reports its
            work through ``probe_op`` (torch keeps its state internally).
        prunable: gradual magnitude pruning and QAT parametrizations act on ``weights``.
        holds_state: the layer keeps state a chip would hold that codesign cannot reach (the
            torch GRU/LSTM): fixed-point state and QAT are refused for it.
    """

    weights: tuple[str, ...] | None
    traced: Literal["hooked", "reported"]
    prunable: bool = True
    holds_state: bool = False

    def weight_names(self, module: nn.Module) -> tuple[str, ...]:
        """The names of ``module``'s synaptic weights."""
        if self.weights is not None:
            return self.weights
        return tuple(n for n, _ in module.named_parameters(recurse=False) if n.startswith("weight_"))


#: The synaptic layer types (read-only). Adding one here is the whole decision: precision,
#: pruning, QAT and the recorder's hooks all read it.
SYNAPSES: MappingProxyType[type[nn.Module], Synapse] = MappingProxyType({
    nn.Linear: Synapse(("weight",), "hooked"),
    nn.Conv1d: Synapse(("weight",), "hooked"),
    nn.GRU: Synapse(None, "reported", prunable=False, holds_state=True),
    nn.LSTM: Synapse(None, "reported", prunable=False, holds_state=True),
})

#: Layer types whose parameters are not synapses: a chip folds norms into neuron biases and
#: thresholds (state-precision registers).
NOT_SYNAPTIC: tuple[type[nn.Module], ...] = (nn.BatchNorm1d, nn.LayerNorm)


class UnsupportedLayer(ValueError):
    """A network holds parameters in a layer that is neither synaptic nor declared otherwise."""


def _synapse_of(module: nn.Module) -> Synapse | None:
    """The synapse of ``module``'s type; a layer a parametrization (QAT) wraps keeps its own type."""
    from torch.nn.utils.parametrize import type_before_parametrizations

    return SYNAPSES.get(type_before_parametrizations(module))


def is_synaptic(module: nn.Module) -> bool:
    """Whether ``module`` is a synaptic layer (exactly one of the :data:`SYNAPSES` types)."""
    return _synapse_of(module) is not None


def synaptic_weights(model: nn.Module, prunable_only: bool = False) -> Iterator[tuple[str, nn.Module, str]]:
    """``(module path, module, parameter name)`` of every synaptic weight of ``model``, in module order.

    Args:
        model: the network.
        prunable_only: only the weights pruning and QAT parametrizations act on.
    """
    for path, module in model.named_modules():
        synapse = _synapse_of(module)
        if synapse is None or (prunable_only and not synapse.prunable):
            continue
        for name in synapse.weight_names(module):
            yield path, module, name


def hooked_synapses(model: nn.Module) -> Iterator[nn.Module]:
    """The synaptic layers a trace recorder records with forward hooks (``traced == "hooked"``)."""
    for module in model.modules():
        synapse = _synapse_of(module)
        if synapse is not None and synapse.traced == "hooked":
            yield module


def holds_hidden_state(model: nn.Module) -> bool:
    """Whether a synaptic layer of ``model`` keeps state codesign cannot quantise (GRU/LSTM)."""
    return any(s is not None and s.holds_state for s in map(_synapse_of, model.modules()))


def _own_parameter_names(module: nn.Module) -> set[str]:
    names = {name for name, _ in module.named_parameters(recurse=False)}
    # a QAT parametrization moves ``weight`` into ``parametrizations.weight.original``
    parametrized = getattr(module, "parametrizations", None)
    if isinstance(parametrized, nn.ModuleDict):
        names |= set(parametrized.keys())
    return names


def _allowed_names(module: nn.Module) -> set[str]:
    synapse = _synapse_of(module)
    if synapse is not None:
        return {name for name, _ in module.named_parameters(recurse=False)} | {"weight"}
    if isinstance(module, NOT_SYNAPTIC):
        return {"weight", "bias"}
    return set(getattr(module, "non_synaptic_parameters", ()))


def check_layers(model: nn.Module) -> None:
    """Refuse a network that holds parameters where codesign would neither quantise nor trace them.

    Every module holding parameters itself must be a synaptic layer (:data:`SYNAPSES`), a norm
    (:data:`NOT_SYNAPTIC`), or name them in ``non_synaptic_parameters``.

    Raises:
        UnsupportedLayer: naming the module, its type and its parameters.
    """
    for path, module in model.named_modules():
        if isinstance(module, ParametrizationList):  # a QAT parametrization's float original
            continue
        unknown = sorted(_own_parameter_names(module) - _allowed_names(module) - {"parametrizations"})
        if unknown:
            raise UnsupportedLayer(
                f"module {path or '<root>'!r} ({type(module).__name__}) holds parameters {unknown} that are neither "
                f"synaptic weights of a known layer type ({', '.join(t.__name__ for t in SYNAPSES)}), nor norms, nor "
                "named in its non_synaptic_parameters: codesign would leave them float and untraced. Use a known "
                "layer type, or add this one to codesign.snn._synapse.SYNAPSES with how it is quantised and traced"
            )
