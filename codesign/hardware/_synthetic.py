"""Random but self-consistent workload traces with real spike samples, for tests and benchmarks.

The per-layer counts of a synthetic trace are computed from its own spike samples, so the
analytic model (which reads the counts) and the simulator (which replays the samples) see
the same workload. Their weights are float (``weight_bits`` 32): the chip model prices them
at each chip's own ``weight_bits`` (``codesign.hardware.check_weight_bits``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from codesign.trace import LayerTrace, TraceMeta, WorkloadTrace


def synthetic_trace(
    n_layers: int = 4,
    *,
    seed: int = 0,
    steps: int = 20,
    widths: list[int] | None = None,
    levels: int | list[int] = 1,
    rates: float | list[float] = 0.1,
    first_layer_real: bool = True,
    matmul_layers: tuple[int, ...] = (),
    unsampled_layers: tuple[int, ...] = (),
    burstiness: float = 0.0,
    weight_density: float = 1.0,
) -> WorkloadTrace:
    """A chain of ``n_layers`` dense layers (optionally some spike_matmul) with spike samples.

    Args:
        n_layers: layers in the chain; layer ``l`` maps ``widths[l]`` inputs to ``widths[l+1]``.
        seed: the generator seed; equal arguments give equal traces.
        steps: steps every layer runs per inference (the trace's ``LayerTrace.steps``).
        widths: ``n_layers + 1`` widths (random 32..256 if None).
        levels: largest spike level per layer (1 = binary), or one for all.
        rates: probability an input is nonzero at a step, per layer or one for all.
        first_layer_real: the first layer takes real values (uint8 samples, costed as MACs).
        matmul_layers: indices costed as ``spike_matmul`` (no stored weights).
        unsampled_layers: indices whose spike samples are left out (the simulator scales).
        burstiness: 0 = the same firing probability at every step; larger = the probability
            varies from step to step (times a gamma variate of shape ``1 / burstiness``),
            as speech onsets make it; the analytic model only sees the average.
        weight_density: fraction of nonzero weights (pruning), recorded as ``weight_nonzero``.
    """
    rng = np.random.default_rng(seed)
    widths = _widths(rng, widths, n_layers)
    # A layer's input levels; 0: real values (the first layer's, as uint8 samples up to 255).
    input_levels = [int(v) for v in _per_layer(levels, n_layers)]
    input_levels[0] = 0 if first_layer_real else input_levels[0]
    rate_list = _per_layer(rates, n_layers)
    raw = [_spike_sample(rng, steps, widths[i], input_levels[i] or 255, float(rate_list[i]), burstiness)
           for i in range(n_layers)]
    raw.append((rng.random((steps, widths[-1])) < 0.1).astype(np.uint8))  # the last layer's outputs
    layers = [_layer(f"layer{i}", raw[i], raw[i + 1], steps, levels=input_levels[i], matmul=i in matmul_layers,
                     weight_density=weight_density) for i in range(n_layers)]
    samples = {layer.name: raw[i] for i, layer in enumerate(layers) if i not in unsampled_layers}
    meta = TraceMeta(family="synthetic", variant="spiking", model_hash=f"synthetic-{seed}", batch_size=1,
                     frames=float(steps), layers=tuple(layers))
    return WorkloadTrace(meta=meta, spike_samples=samples)


def _widths(rng: np.random.Generator, widths: list[int] | None, n_layers: int) -> list[int]:
    """The chain's ``n_layers + 1`` widths (random 32..256 if None).

    Raises:
        ValueError: a list of another length.
    """
    if widths is None:
        widths = [int(w) for w in rng.integers(32, 257, n_layers + 1)]
    if len(widths) != n_layers + 1:
        raise ValueError(f"widths needs {n_layers + 1} entries, got {len(widths)}")
    return widths


def _per_layer(value: float | Sequence[float], n_layers: int) -> list[float]:
    """One value per layer: ``value`` for all, or the sequence as given."""
    return [float(value)] * n_layers if isinstance(value, int | float) else [float(v) for v in value]


def _spike_sample(rng: np.random.Generator, steps: int, width: int, top: int, rate: float,
                  burstiness: float) -> np.ndarray:
    """``[steps, width]`` input levels 1..top, each nonzero with the step's probability."""
    step_rate = np.full((steps, 1), rate)
    if burstiness > 0:
        step_rate = step_rate * rng.gamma(1.0 / burstiness, burstiness, (steps, 1))
    active = rng.random((steps, width)) < np.minimum(step_rate, 1.0)
    values = rng.integers(1, top + 1, (steps, width))
    sample: np.ndarray = (active * values).astype(np.uint8)
    return sample


def _layer(name: str, sample: np.ndarray, nxt: np.ndarray, steps: int, *, levels: int, matmul: bool,
           weight_density: float) -> LayerTrace:
    """A dense (or spike_matmul) layer whose inputs are ``sample`` and outputs ``nxt``;
    ``levels`` 0: real-valued inputs."""
    real = levels == 0
    in_w, out_w = sample.shape[1], nxt.shape[1]
    return LayerTrace(
        name=name,
        kind="spike_matmul" if matmul else "synaptic_dense",
        in_shape=(in_w,),
        out_shape=(out_w,),
        steps=steps,
        weight_count=0 if matmul else in_w * out_w,
        weight_nonzero=0 if matmul else round(in_w * out_w * weight_density),
        weight_bits=32,  # a float network: priced at any chip's weight_bits
        fan_out=float(out_w),
        input_size=float(sample.size),
        input_events=float(np.count_nonzero(sample)),
        input_level_sum=0.0 if real else float(sample.sum(dtype=np.int64)),
        input_is_spike=not real,
        levels=levels,
        output_spikes=float(np.count_nonzero(nxt)),
        output_level_sum=float(nxt.sum(dtype=np.int64)),
        neuron_evaluations=float(steps * out_w),
        dense_macs=float(sample.size * out_w),
        aux_ops=0.0,
        state_size=out_w,
    )


def random_chip_columns(n: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` random chip configurations as ChipArray columns, spanning the template's ranges.

    Covers small and large meshes, SRAM small enough to split and spill layers, binary and
    graded spikes, zero skipping on and off, every node; use with ``ChipArray.from_columns``.
    """
    rng = np.random.default_rng(seed)
    cores = rng.choice([1, 2, 4, 8, 16, 32, 64, 128], n)
    return {
        "cores": cores.astype(float),
        "pes_per_core": rng.choice([1, 2, 4, 8, 16, 32], n).astype(float),
        "neuron_units_per_core": rng.choice([1, 2, 4, 8, 16], n).astype(float),
        "weight_sram_kb_per_core": rng.choice([2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0], n),
        "state_sram_kb_per_core": rng.choice([0.5, 1.0, 2.0, 4.0, 16.0], n),
        "sram_ports_per_core": rng.choice([1, 2], n).astype(float),
        "weight_bits": rng.choice([2, 4, 8, 16], n).astype(float),
        "state_bits": rng.choice([8, 12, 16, 24], n).astype(float),
        "graded_spike_bits": rng.choice([0, 1, 2, 3, 4], n).astype(float),
        "zero_skipping": (rng.random(n) < 0.8).astype(float),
        "sparse_weights": (rng.random(n) < 0.3).astype(float),
        "clock_mhz": rng.choice([20.0, 50.0, 100.0, 200.0, 400.0], n),
        "node_nm": rng.choice([45, 28, 22, 14, 7], n).astype(float),
        "noc_link_bits": rng.choice([8, 16, 32, 64], n).astype(float),
        "noc_hop_latency_cycles": rng.choice([1.0, 2.0, 3.0], n),
        "weight_overflow": (rng.random(n) < 0.5).astype(float),
    }


def lif_mlp_trace(
    sizes: tuple[int, ...] = (40, 256, 256, 128, 22),
    *,
    steps: int = 20,
    rate: float = 0.3,
    prune: float = 0.5,
    seed: int = 0,
    threshold: float = 1.0,
    leak: float = 0.9,
) -> WorkloadTrace:
    """A plain multi-layer LIF network, seeded and simulated in numpy: its trace and samples.

    Poisson input spikes (``rate`` per input and step) drive ``len(sizes) - 1`` dense layers
    of Gaussian weights (std ``1.5 / sqrt(fan_in * rate)``) with a ``prune`` fraction set to
    zero, each followed by LIF neurons (``v = leak * v + input``, spike and reset at
    ``threshold``). The trace lists each layer (``fc{l}``, its spike sample, its nonzero
    fan-out and dense operations) and its neurons (``lif{l}``), as the recorder would.
    """
    rng = np.random.default_rng(seed)
    spikes = (rng.random((steps, sizes[0])) < rate).astype(np.uint8)
    layers: list[LayerTrace] = []
    samples: dict[str, np.ndarray] = {}
    for index, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        weights = rng.normal(0.0, 1.5 / np.sqrt(n_in * rate), (n_in, n_out))
        weights[rng.random(weights.shape) < prune] = 0.0
        nonzero = weights != 0
        events = float(spikes.sum())
        ops = float((spikes.astype(float) @ nonzero).sum())
        samples[f"fc{index}"] = spikes.copy()
        layers.append(LayerTrace(
            name=f"fc{index}", kind="synaptic_dense", in_shape=(n_in,), out_shape=(n_out,), steps=steps,
            weight_count=int(weights.size), weight_nonzero=int(nonzero.sum()), weight_bits=32,
            fan_out=ops / events if events else 0.0, input_size=float(steps * n_in), input_events=events,
            input_level_sum=events, input_is_spike=True, levels=1, dense_macs=float(steps * n_in * n_out),
            binary_input_ops=ops,
        ))
        potential = np.zeros(n_out)
        out = np.zeros((steps, n_out), dtype=np.uint8)
        for t in range(steps):
            potential = leak * potential + spikes[t] @ weights
            fire = potential >= threshold
            out[t] = fire
            potential[fire] = 0.0
        layers.append(LayerTrace(
            name=f"lif{index}", kind="state_update", in_shape=(n_out,), out_shape=(n_out,), steps=steps,
            input_size=float(steps * n_out), input_events=float(steps * n_out), neuron_evaluations=float(steps * n_out),
            output_spikes=float(out.sum()), output_level_sum=float(out.sum()), state_size=n_out, neuron_output=True,
        ))
        spikes = out
    meta = TraceMeta(family="lif_mlp", variant="spiking", model_hash=f"lif_mlp-{'-'.join(map(str, sizes))}-s{seed}",
                     batch_size=1, frames=float(steps), layers=tuple(layers))
    return WorkloadTrace(meta=meta, spike_samples=samples)
