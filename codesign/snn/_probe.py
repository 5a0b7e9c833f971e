"""The model side of workload tracing: how a module reports operations that are not layers.

``codesign.trace`` records ``nn.Linear``/``nn.Conv1d`` layers with forward hooks on its own.
Activation-activation products (spiking attention), scans and elementwise work are reported
by the modules themselves through :func:`probe_op` (the fields of :class:`OpCounts`) and
:func:`probe_matmul`. Neurons never report themselves: they are :class:`HookProbed`, and
:func:`attach_probe` hooks their calls from outside (and watches their state sites), asking
the neuron only what one call counted (``probe_counts``). All of it is a no-op unless a
recorder (a :class:`ProbeSink`) is attached to the module for one pass; there is no global
registry, so nothing leaks between trials.

This module lives in ``codesign.snn`` (not ``codesign.trace``) because models must not
import from further down the data flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from codesign.snn._config import LayerKind

#: Attribute a recorder sets on a module for the duration of one traced pass.
PROBE_ATTR = "_codesign_probe"
#: The hooks :func:`attach_probe` adds to a :class:`HookProbed` module.
HOOKS_ATTR = "_codesign_probe_hooks"
#: While a probed call runs: the values each state site held, in step order (``{site: [...]}``).
WATCH_ATTR = "_codesign_watched"



class ProbeSink(Protocol):
    """What a recorder implements to receive operations reported by modules."""

    def record_op(self, module: nn.Module, op: str, **counts: object) -> None:
        """Receive one operation of ``module`` named ``op`` (see :func:`probe_op` for keys)."""


class Probed:
    """Mixin for modules that report operations; the recorder attaches itself per instance."""

    def probe_sink(self) -> ProbeSink | None:
        """The attached recorder, or None when the pass is not being traced."""
        return self.__dict__.get(PROBE_ATTR)


def attach_probe(module: nn.Module, sink: ProbeSink | None) -> None:
    """Attach (or with None detach) ``sink`` to ``module`` only; recorders walk the tree.

    A :class:`HookProbed` module also gets the hooks that report its calls and watch its
    state sites; detaching removes them.
    """
    for handle in module.__dict__.pop(HOOKS_ATTR, ()):
        handle.remove()
    module.__dict__.pop(WATCH_ATTR, None)
    if sink is None:
        module.__dict__.pop(PROBE_ATTR, None)
        return
    module.__dict__[PROBE_ATTR] = sink
    if isinstance(module, HookProbed):
        module.__dict__[HOOKS_ATTR] = (
            module.register_forward_pre_hook(_start_watching),
            module.register_forward_hook(_report_call),
        )


def is_probed(module: nn.Module) -> bool:
    """Whether a recorder is attached to ``module`` (cheap; lets modules skip counting work)."""
    return PROBE_ATTR in module.__dict__


@dataclass(frozen=True)
class OpCounts:
    """What one traced operation did in one call (the fields of :func:`probe_op`).

    Attributes:
        kind: the trace layer kind.
        in_shape, out_shape: per-step shapes without the batch dimension.
        steps: steps this operation runs in this call (frames x T; ``ModelConfig.timesteps``
            is T alone).
        inputs: the operation's input activations; nonzeros are events, integer levels summed.
        outputs: its output activations (spikes/levels), if it produces any.
        effective_ops: operations caused by the nonzero inputs in this call.
        dense_macs: operations if every input were processed.
        neuron_evaluations: neuron/state evaluations in this call (every element, every step).
        state_size: state elements kept between steps (per frame).
        aux_ops: extra inference operations in this call.
        weight_count, weight_nonzero: stored parameters this op reads.
        levels: largest input level if the inputs are spikes (None: let the recorder infer).
        membrane_changed: for a neuron with a membrane, ``[steps, ...]`` in step order: whether
            each membrane's value after the step differs from its value before it (the first
            step compared with the initial state). The recorder turns it into NeuroBench's
            membrane updates; None for units without a membrane.
    """

    kind: LayerKind
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    steps: int
    inputs: torch.Tensor | None = None
    outputs: torch.Tensor | None = None
    effective_ops: float = 0.0
    dense_macs: float = 0.0
    neuron_evaluations: float = 0.0
    state_size: int = 0
    aux_ops: float = 0.0
    weight_count: int = 0
    weight_nonzero: int = 0
    levels: int | None = None
    membrane_changed: torch.Tensor | None = None


def probe_op(module: nn.Module, op: str, counts: OpCounts) -> None:
    """Report one operation of ``module`` during a traced pass (no-op otherwise): ``module``'s
    path names the trace entry ``<path>.<op>``; ``op`` is unique within the module."""
    sink = module.__dict__.get(PROBE_ATTR)
    if sink is None:
        return
    sink.record_op(
        module,
        op,
        kind=counts.kind,
        in_shape=tuple(int(s) for s in counts.in_shape),
        out_shape=tuple(int(s) for s in counts.out_shape),
        steps=int(counts.steps),
        inputs=None if counts.inputs is None else counts.inputs.detach(),
        outputs=None if counts.outputs is None else counts.outputs.detach(),
        effective_ops=float(counts.effective_ops),
        dense_macs=float(counts.dense_macs),
        neuron_evaluations=float(counts.neuron_evaluations),
        state_size=int(counts.state_size),
        aux_ops=float(counts.aux_ops),
        weight_count=int(counts.weight_count),
        weight_nonzero=int(counts.weight_nonzero),
        levels=counts.levels,
        membrane_changed=None if counts.membrane_changed is None else counts.membrane_changed.detach(),
    )


class HookProbed(Probed):
    """A module reported to the trace from outside: :func:`attach_probe` hooks its calls.

    It never reports itself; it describes one call's operations in :meth:`probe_counts`,
    from its inputs, its output and the states it passed through its state sites
    (``codesign.snn._precision.HoldsState.hold``), which a probe watches while attached.
    """

    def probe_counts(
        self, inputs: tuple[torch.Tensor, ...], output: object, watched: dict[str, list[torch.Tensor]]
    ) -> list[tuple[str, OpCounts]]:
        """The ``(op, counts)`` of one call."""
        raise NotImplementedError


def _start_watching(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
    module.__dict__[WATCH_ATTR] = {}


def _report_call(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: object) -> None:
    assert isinstance(module, HookProbed)  # the only modules attach_probe hooks
    watched = module.__dict__.pop(WATCH_ATTR, {})
    for op, counts in module.probe_counts(inputs, output, watched):
        probe_op(module, op, counts)


def probe_matmul(
    module: nn.Module,
    op: str,
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    steps: int = 1,
    in_shape: tuple[int, ...] | None = None,
    out_shape: tuple[int, ...] | None = None,
) -> None:
    """Report the activation-activation product ``a @ b`` (kind ``spike_matmul``).

    ``a`` (``[..., n, k]``) is the streamed operand: its nonzeros are the input events. Each
    event at ``a[..., i, j]`` pairs with the nonzero ``b[..., j, l]`` whose product is kept
    (``mask[..., i, l] != 0``; all when ``mask`` is None); those pairs are the effective ops.

    Args:
        module: the reporting module.
        op: the operation's name.
        a: ``[..., n, k]``.
        b: ``[..., k, m]``.
        mask: optional map of computed outputs, broadcastable to ``[..., n, m]``.
        steps: timesteps this product spans (e.g. frames x T for attention over frames).
        in_shape, out_shape: per-step shapes to record (default ``(k,)`` and ``(m,)``).
    """
    if not is_probed(module):
        return
    a_nz = (a != 0).to(torch.float64)
    b_nz = (b != 0).to(torch.float64)
    pairs = a_nz @ b_nz
    dense = torch.full_like(pairs, float(a.shape[-1]))
    if mask is not None:
        kept = (mask != 0).to(torch.float64)
        pairs = pairs * kept
        dense = dense * kept
    probe_op(module, op, OpCounts(
        kind="spike_matmul",
        in_shape=in_shape if in_shape is not None else (int(a.shape[-1]),),
        out_shape=out_shape if out_shape is not None else (int(b.shape[-1]),),
        steps=max(1, steps),
        inputs=a,
        effective_ops=float(pairs.sum()),
        dense_macs=float(dense.sum()),
    ))
