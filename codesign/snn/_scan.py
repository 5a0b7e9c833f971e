"""The selective (diagonal, input-dependent) state-space scan of the Mamba block.

Owns the recurrence ``s_t = exp(Δ_t·A) ⊙ s_{t-1} + Δ_t·B_t·x_t``, ``y_t = C_t·s_t`` in two
forms: the plain sequential loop (the definition) and a chunked form, exact up to float rounding, that
replaces the per-step loop by ``steps / K`` iterations of whole-chunk tensor operations.

Which one is faster depends on the machine: on one CPU thread the loop of small updates
wins (measured 3.7x faster by ``benchmarks/mamba_scan_speed.py``: the chunked form does
``K`` times the arithmetic to remove Python steps). On an accelerator, where each step's
launch costs more than its arithmetic, the chunked form is expected to win (not measured
here). ``method="auto"`` picks the loop on CPU and the chunked form elsewhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from codesign.snn._time import Hold, no_hold, over_time

__all__ = [
    "ScanMethod",
    "scan_states",
    "scan_step",
    "selective_scan",
    "selective_scan_chunked",
    "selective_scan_sequential",
]

ScanMethod = Literal["auto", "loop", "chunked"]


def scan_states(
    x: Tensor, delta: Tensor, a: Tensor, b: Tensor, hold: Callable[[Tensor], Tensor] | None = None
) -> Tensor:
    """Every state ``s_t`` of the recurrence, ``[batch, steps, channels, state]``, by a loop over time.

    Args: as :func:`selective_scan_sequential` (without ``c``), plus ``hold``: applied to each
    new state (a chip's fixed-point state word, ``codesign.snn._precision``).
    """
    batch, _, channels = x.shape
    # Decays and inputs of every step at once; only the state update itself is sequential.
    decay = torch.exp(delta[..., None] * a)  # [B, L, C, N]
    u = (delta * x)[..., None] * b[:, :, None, :]
    _, (states,) = over_time(
        functools.partial(scan_step, hold=hold or no_hold), x.new_zeros(batch, channels, a.shape[1]),
        zip(decay.unbind(1), u.unbind(1), strict=True), dim=1,
    )
    return states


def scan_step(s: Tensor, inputs: tuple[Tensor, Tensor], hold: Hold = no_hold) -> tuple[Tensor, tuple[Tensor]]:
    """One step of the recurrence: ``s = hold(exp(Δ_t·A) ⊙ s + Δ_t·B_t·x_t)`` from this step's
    ``(exp(Δ_t·A), Δ_t·B_t·x_t)``; the new state is also the step's output."""
    decay, u = inputs
    s = hold(decay * s + u)
    return s, (s,)


def selective_scan_sequential(
    x: Tensor, delta: Tensor, a: Tensor, b: Tensor, c: Tensor, hold: Callable[[Tensor], Tensor] | None = None
) -> Tensor:
    """Reference scan: a Python loop over time.

    Args:
        x: inputs ``[batch, steps, channels]``.
        delta: step sizes Δ ``[batch, steps, channels]`` (positive).
        a: continuous-time state matrix diagonal ``[channels, state]`` (negative).
        b: input matrices ``[batch, steps, state]``.
        c: output matrices ``[batch, steps, state]``.

    Returns:
        ``y`` of shape ``[batch, steps, channels]`` (without the ``D·x`` skip term).
    """
    return torch.einsum("btcn,btn->btc", scan_states(x, delta, a, b, hold), c)


def selective_scan_chunked(x: Tensor, delta: Tensor, a: Tensor, b: Tensor, c: Tensor, chunk: int = 8) -> Tensor:
    """Chunked scan, equal to :func:`selective_scan_sequential` up to float rounding.

    Within a chunk of ``K`` steps the log-decays ``Δ_t·A`` are cumulatively summed
    (``Λ_t``); the state is ``s_t = exp(Λ_t) s_0 + Σ_{j≤t} exp(Λ_t − Λ_j) u_j`` with
    ``u_j = Δ_j B_j x_j``. Only differences ``Λ_t − Λ_j ≤ 0`` are exponentiated, so nothing
    overflows however long the decay; chunks are chained through their final state with a
    short loop of ``steps / K`` iterations.

    Args: as :func:`selective_scan_sequential`, plus ``chunk``: steps per chunk ``K``
    (memory grows with ``K²``).

    Returns:
        ``y`` of shape ``[batch, steps, channels]``.
    """
    batch, steps, channels = x.shape
    n_state = a.shape[1]
    pad = (-steps) % chunk
    if pad:
        # Zero Δ on padded steps: no decay and no input, so the carried state is unchanged.
        x, delta, b, c = (torch.nn.functional.pad(t, (0, 0, 0, pad)) for t in (x, delta, b, c))
    n_chunks = x.shape[1] // chunk
    shape = (batch, n_chunks, chunk)
    log_decay = (delta[..., None] * a).reshape(*shape, channels, n_state)  # [B, M, K, C, N]
    u = ((delta * x)[..., None] * b[:, :, None, :]).reshape(*shape, channels, n_state)
    cum = torch.cumsum(log_decay, dim=2)
    # segment[t, j] = Λ_t − Λ_j for j ≤ t, −inf above the diagonal: [B, M, K(t), K(j), C, N]
    segment = cum[:, :, :, None] - cum[:, :, None, :]
    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=x.device).tril()
    segment = segment.masked_fill(~causal[:, :, None, None], float("-inf"))
    local = torch.einsum("bmtjcn,bmjcn->bmtcn", torch.exp(segment), u)  # states from a zero start
    carry_decay = torch.exp(cum)  # decay from the chunk's start to each step
    s = x.new_zeros(batch, channels, n_state)
    states = []
    for m in range(n_chunks):
        chunk_states = local[:, m] + carry_decay[:, m] * s[:, None]
        states.append(chunk_states)
        s = chunk_states[:, -1]
    all_states = torch.stack(states, dim=1).reshape(batch, n_chunks * chunk, channels, n_state)
    y = torch.einsum("btcn,btn->btc", all_states, c)
    return y[:, :steps]


def selective_scan(
    x: Tensor, delta: Tensor, a: Tensor, b: Tensor, c: Tensor, method: ScanMethod = "auto",
    hold: Callable[[Tensor], Tensor] | None = None,
) -> Tensor:
    """The selective scan by the fastest exact method for the tensors' device.

    Args: as :func:`selective_scan_sequential`, plus ``method``: ``"loop"``, ``"chunked"``
    or ``"auto"`` (loop on CPU, chunked elsewhere). A ``hold`` (fixed-point state) needs
    each state in turn, so it always takes the loop.

    Raises:
        ValueError: unknown method.
    """
    if hold is not None:
        return selective_scan_sequential(x, delta, a, b, c, hold)
    if method == "auto":
        method = "loop" if x.device.type == "cpu" else "chunked"
    if method == "loop":
        return selective_scan_sequential(x, delta, a, b, c)
    if method == "chunked":
        return selective_scan_chunked(x, delta, a, b, c)
    raise ValueError(f"scan method one of loop, chunked, auto; got {method!r}")
