"""The one time loop of ``codesign.snn``: a step function run over a sequence.

A neuron (or a recurrent layer, a scan, a quantiser with error feedback) is a step function
``step(state, x_t) -> (state, y_t)`` that holds no state of its own (as Norse's
``lif_feed_forward_step``); :func:`over_time` owns the loop: it threads the state through the
steps and stacks what each step emits. What watches or changes the state on the way (a
chip's fixed-point state word, a trace recorder's membrane watcher) is passed to the step
function as a ``hold`` from outside (``codesign.snn._precision.HoldsState.holder``), never
decided inside it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

import torch
from torch import Tensor

__all__ = ["Hold", "no_hold", "over_time"]

S = TypeVar("S")
X = TypeVar("X")

#: What a step applies to each new state value before using it (identity when nothing watches).
Hold = Callable[[Tensor], Tensor]


def no_hold(x: Tensor) -> Tensor:
    """The identity: a state held as computed (float)."""
    return x


def over_time(
    step: Callable[[S, X], tuple[S, tuple[Tensor, ...]]], state: S, inputs: Iterable[X], dim: int = 0
) -> tuple[S, tuple[Tensor, ...]]:
    """Run ``step`` over ``inputs`` in order, threading ``state``.

    Args:
        step: ``(state, x_t) -> (state, outputs_t)``, ``outputs_t`` a tuple of tensors.
        state: the state before the first step.
        inputs: one item per step (a tensor's slices along time, or tuples of them).
        dim: the dimension the outputs are stacked along (time).

    Returns:
        The final state, and each output stacked over the steps along ``dim``.

    Raises:
        ValueError: no step to run.
    """
    collected: list[tuple[Tensor, ...]] = []
    for x in inputs:
        state, outputs = step(state, x)
        collected.append(outputs)
    if not collected:
        raise ValueError("over_time needs at least one step")
    return state, tuple(torch.stack(series, dim=dim) for series in zip(*collected, strict=True))
