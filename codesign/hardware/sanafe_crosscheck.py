"""Cross-check of the analytic chip model against SANA-FE's silicon-calibrated Loihi model.

SANA-FE (Boyle et al., "SANA-FE: simulating advanced neuromorphic architectures for fast
exploration", IEEE TCAD 44(8), 2025, doi:10.1109/TCAD.2025.3537971; ``pip install sanafe``) simulates spiking chips from per-event
energies and latencies. Its Loihi architecture (``sanafe/examples/loihi.yaml``) carries the
constants of Davies et al. 2018 and the simulator is reported within 12 % of Loihi's measured
energy and 25 % of its latency. SANA-FE is GPL-3.0 and codesign Apache-2.0: this module is
an optional extra (``pip install 'codesign[sanafe]'``), imported only by ``codesign hw
crosscheck`` and the benchmark, never by ``codesign.hardware`` or any other core module.

How a trace is replayed (per weight layer whose inputs are spikes and that has a spike sample):

- the layer runs alone, one SANA-FE timestep per sample row (one frame of one spiking step),
  so that the layers' latencies add up as codesign's layer-sequential model assumes;
- its inputs are SANA-FE ``input`` neurons fed with the sample's real spike trains. Loihi's
  spikes are binary, so a level-k input is k copies of the input neuron firing in the same
  step (codesign's "split" graded spikes); the inputs sit on core 0 (codesign's host), spilling
  onto the next cores past SANA-FE's 1024 input units per core;
- its outputs are LIF neurons (threshold 4, weights 1), placed on the cores codesign's mapping
  gives the layer. Each input connects to ``fan_out`` of them (the trace's mean synapses per
  event, drawn at random, seeded), so synaptic operations equal the trace's;
- codesign's analytic model and its event-driven simulator cost the same replay: a two-entry
  trace (the layer with the sample's counts, then its output neurons with SANA-FE's update
  and spike counts) on the same chip.

Not replayed (reported as skipped with the reason): layers with real-valued inputs (Loihi
takes spikes only; the host computes them), activation-activation products (attention,
no stored weights to map) and state updates (scans), which SANA-FE's Loihi cannot express.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from codesign.hardware._chip import ChipArray, ChipConfig
from codesign.hardware._model import LayerArrays, core_shares, estimate_cost, layer_work, map_layers
from codesign.hardware._report import CATEGORIES
from codesign.hardware._simulator import simulate
from codesign.trace import LayerTrace, TraceMeta, WorkloadTrace

INSTALL_HINT = "pip install 'codesign[sanafe]'"
#: SANA-FE's energy blocks, and where codesign's categories fall among them.
BLOCKS = ("synapse", "dendrite", "soma", "network")
CATEGORY_BLOCK = {
    "synaptic_compute": "synapse",
    "weight_memory": "synapse",
    "state_memory": "soma",
    "neuron_update": "soma",
    "noc": "network",
    "offchip": "other",
    "static": "other",
}
SOURCES = ("analytic", "simulated", "sanafe")

#: SANA-FE's Loihi: 8 x 4 tiles of 4 cores, 1024 neurons and 1024 input units per core.
LOIHI_TILES_X, LOIHI_TILES_Y, LOIHI_CORES_PER_TILE, LOIHI_CORE_NEURONS = 8, 4, 4, 1024
LOIHI_CORES = LOIHI_TILES_X * LOIHI_TILES_Y * LOIHI_CORES_PER_TILE
#: Output LIF neurons: unit weights and this threshold (some fire, so spike costs are exercised).
OUTPUT_THRESHOLD = 4.0


class SanafeMissing(RuntimeError):
    """SANA-FE is not installed (it is the optional extra ``codesign[sanafe]``)."""


def import_sanafe() -> Any:
    """The ``sanafe`` module.

    Raises:
        SanafeMissing: not installed; the message says how to install it.
    """
    try:
        import sanafe
    except ImportError:
        raise SanafeMissing(
            f"SANA-FE is not installed; it is an optional extra (GPL-3.0): {INSTALL_HINT}"
        ) from None
    return sanafe


@dataclass(frozen=True)
class LayerCrosscheck:
    """One replayed layer: the same spikes costed by the three models.

    Attributes:
        name: the trace layer.
        steps: SANA-FE timesteps (sample rows).
        input_spikes: binary input spikes replayed (the sample's level sum).
        synaptic_ops: synaptic operations (input spikes x synapses).
        output_neurons, output_spikes: the LIF outputs and how often SANA-FE fired them.
        energy_by_block_pj: per source (analytic, simulated, sanafe), pJ per block (synapse,
            dendrite, soma, network, other); ``energy_pj`` in :meth:`CrosscheckReport.to_dict`.
        latency_us: per source.
    """

    name: str
    steps: int
    input_spikes: float
    synaptic_ops: float
    output_neurons: int
    output_spikes: float
    energy_by_block_pj: dict[str, dict[str, float]]
    latency_us: dict[str, float]


@dataclass(frozen=True)
class CrosscheckReport:
    """Analytic model, event-driven simulator and SANA-FE on the same replayed spikes."""

    chip: str
    architecture: str
    layers: tuple[LayerCrosscheck, ...]
    skipped: dict[str, str] = field(default_factory=dict)
    coverage: float = 0.0

    def total_energy_pj(self, source: str) -> float:
        return sum(sum(layer.energy_by_block_pj[source].values()) for layer in self.layers)

    def energy_by_block_pj(self, source: str) -> dict[str, float]:
        blocks = {b: 0.0 for b in (*BLOCKS, "other")}
        for layer in self.layers:
            for block, value in layer.energy_by_block_pj[source].items():
                blocks[block] += value
        return blocks

    def latency_us(self, source: str) -> float:
        return sum(layer.latency_us[source] for layer in self.layers)

    def energy_rel_error(self, source: str = "analytic") -> float:
        """``(source − SANA-FE) / SANA-FE`` on total energy."""
        ref = self.total_energy_pj("sanafe")
        return (self.total_energy_pj(source) - ref) / ref if ref else 0.0

    def latency_rel_error(self, source: str = "analytic") -> float:
        """``(source − SANA-FE) / SANA-FE`` on latency."""
        ref = self.latency_us("sanafe")
        return (self.latency_us(source) - ref) / ref if ref else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "chip": self.chip,
            "architecture": self.architecture,
            "coverage": self.coverage,
            "skipped": dict(self.skipped),
            "total_energy_pj": {s: self.total_energy_pj(s) for s in SOURCES},
            "energy_by_block_pj": {s: self.energy_by_block_pj(s) for s in SOURCES},
            "latency_us": {s: self.latency_us(s) for s in SOURCES},
            "energy_rel_error": {s: self.energy_rel_error(s) for s in SOURCES[:2]},
            "latency_rel_error": {s: self.latency_rel_error(s) for s in SOURCES[:2]},
            "layers": [
                {
                    "name": layer.name,
                    "steps": layer.steps,
                    "input_spikes": layer.input_spikes,
                    "synaptic_ops": layer.synaptic_ops,
                    "output_neurons": layer.output_neurons,
                    "output_spikes": layer.output_spikes,
                    "energy_pj": layer.energy_by_block_pj,
                    "latency_us": layer.latency_us,
                }
                for layer in self.layers
            ],
        }

    def table(self) -> str:
        """The comparison as text: totals, blocks, then per layer (analytic vs SANA-FE)."""
        lines = [
            f"chip {self.chip} vs SANA-FE {self.architecture}: {len(self.layers)} replayed layers "
            f"carrying {100 * self.coverage:.1f}% of the analytic energy of the whole trace",
            f"{'figure':<26}{'analytic':>14}{'simulated':>14}{'SANA-FE':>14}{'analytic err':>14}",
        ]

        def row(name: str, a: float, s: float, f: float) -> str:
            err = f"{(a - f) / f:+.1%}" if f else "-"
            return f"{name:<26}{a:>14.6g}{s:>14.6g}{f:>14.6g}{err:>14}"

        lines.append(row("energy_pj", *(self.total_energy_pj(s) for s in SOURCES)))
        for block in (*BLOCKS, "other"):
            values = [self.energy_by_block_pj(s)[block] for s in SOURCES]
            if any(values):
                lines.append(row(f"  {block}_pj", *values))
        lines.append(row("latency_us", *(self.latency_us(s) for s in SOURCES)))
        lines.append("")
        lines.append(f"{'layer':<34}{'spikes':>10}{'syn ops':>12}{'energy err':>12}{'latency err':>13}"
                     f"{'synapse':>9}{'soma':>9}{'network':>9}")
        for layer in self.layers:
            a, f = layer.energy_by_block_pj["analytic"], layer.energy_by_block_pj["sanafe"]
            ea, ef = sum(a.values()), sum(f.values())
            la, lf = layer.latency_us["analytic"], layer.latency_us["sanafe"]

            def err(x: float, y: float) -> str:
                return f"{(x - y) / y:+.1%}" if y else "-"

            lines.append(
                f"{layer.name:<34}{layer.input_spikes:>10.6g}{layer.synaptic_ops:>12.6g}{err(ea, ef):>12}"
                f"{err(la, lf):>13}{err(a['synapse'], f['synapse']):>9}{err(a['soma'], f['soma']):>9}"
                f"{err(a['network'], f['network']):>9}"
            )
        if self.skipped:
            lines.append("")
            lines.append("not replayed: " + "; ".join(f"{k} ({v})" for k, v in self.skipped.items()))
        return "\n".join(lines)


def replayable(trace: WorkloadTrace) -> tuple[list[str], dict[str, str]]:
    """The layers SANA-FE's Loihi can replay, and every other layer with the reason it cannot."""
    names, skipped = [], {}
    for layer in trace.layers:
        if layer.kind in ("synaptic_dense", "synaptic_conv"):
            sample = trace.spike_samples.get(layer.name)
            if not layer.input_is_spike:
                skipped[layer.name] = "real-valued inputs"
            elif sample is None or not sample.size:
                skipped[layer.name] = "no spike sample"
            elif layer.fan_out <= 0:
                skipped[layer.name] = "no synaptic operations"
            else:
                names.append(layer.name)
        elif layer.kind == "spike_matmul":
            skipped[layer.name] = "activation x activation product (no stored weights)"
    return names, skipped


def _connectivity(layer: LayerTrace, n_inputs: int, rng: np.random.Generator) -> tuple[int, list[np.ndarray]]:
    """Output neurons and, per input, the outputs it reaches: ``fan_out`` on average."""
    fan_out = float(layer.fan_out)
    n_out = max(int(np.prod(layer.out_shape)) if layer.out_shape else 1, math.ceil(fan_out))
    base = math.floor(fan_out)
    counts = base + (rng.random(n_inputs) < fan_out - base)
    counts = np.minimum(counts, n_out)
    targets = [np.sort(rng.choice(n_out, size=int(k), replace=False)) for k in counts]
    return n_out, targets


def _loihi_core(core: int, mesh_cols: int) -> tuple[int, int]:
    """codesign core index (row-major mesh) -> SANA-FE Loihi (tile, core): a tile is 2 x 2 cores."""
    if mesh_cols == 2 * LOIHI_TILES_X:
        x, y = core % mesh_cols, core // mesh_cols
        tile = (y // 2) * LOIHI_TILES_X + x // 2
        return tile, (y % 2) * 2 + x % 2
    return core // LOIHI_CORES_PER_TILE, core % LOIHI_CORES_PER_TILE


class _Placement:
    """Neurons per SANA-FE core, never more than a Loihi core holds."""

    def __init__(self) -> None:
        self.used = np.zeros(LOIHI_CORES, dtype=int)

    def take(self, core: int) -> int:
        """The wanted core if it has room, else the next one that does."""
        for offset in range(LOIHI_CORES):
            c = (core + offset) % LOIHI_CORES
            if self.used[c] < LOIHI_CORE_NEURONS:
                self.used[c] += 1
                return c
        raise ValueError(f"the replay needs more than {LOIHI_CORES * LOIHI_CORE_NEURONS} neurons")


def _replay_trace(layer: LayerTrace, sample: np.ndarray, fan_out: float, n_out: int, fired: float) -> WorkloadTrace:
    """The layer with the sample's counts, then its output neurons: what SANA-FE runs."""
    rows, width = sample.shape
    level_sum = float(sample.sum())
    syn = layer.model_copy(update={
        "steps": rows,
        "input_size": float(rows * width),
        "input_events": float(np.count_nonzero(sample)),
        "input_level_sum": level_sum,
        "levels": int(sample.max()),
        "fan_out": fan_out,
        "binary_input_ops": 0.0,
        "output_spikes": 0.0,
        "output_level_sum": 0.0,
        "neuron_updates": 0.0,
        "aux_ops": 0.0,
        "dense_macs": float(rows * width * n_out),
    })
    soma = LayerTrace(
        name=f"{layer.name}.outputs", kind="state_update", in_shape=(n_out,), out_shape=(n_out,),
        steps=rows, neuron_updates=float(n_out * rows), output_spikes=fired, output_level_sum=fired,
        state_size=n_out, neuron_output=True,
    )
    meta = TraceMeta(family="replay", variant=layer.name, model_hash="", batch_size=1, frames=float(rows),
                     layers=(syn, soma))
    return WorkloadTrace(meta=meta, spike_samples={layer.name: sample})


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence SANA-FE's progress lines, whether they go through ``sys.stdout`` or file descriptor 1."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(io.StringIO()):
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _run_sanafe(
    sanafe: Any, arch_path: str, sample: np.ndarray, targets: list[np.ndarray], n_out: int,
    out_cores: np.ndarray, mesh_cols: int,
) -> dict[str, Any]:
    """Simulate one layer's replay on SANA-FE's Loihi; energies in pJ, time in µs."""
    arch = sanafe.load_arch(arch_path)
    net = sanafe.Network()
    rows = sample.shape[0]
    placement = _Placement()
    loihi_cores = [list(tile.cores) for tile in arch.tiles]  # pybind lists are rebuilt on each access
    outputs = net.create_neuron_group(
        "outputs", n_out, model_attributes={"threshold": OUTPUT_THRESHOLD},
        soma_hw_name="loihi_lif", default_synapse_hw_name="loihi_dense_synapse",
    )
    for i, neuron in enumerate(outputs.neurons):
        tile, core = _loihi_core(placement.take(int(out_cores[i])), mesh_cols)
        neuron.map_to_core(loihi_cores[tile][core])
    # One group per copy level c: input j's copy c fires when its level exceeds c.
    unit_of_core: dict[int, int] = {}
    for c in range(int(sample.max())):
        sources = [j for j in range(sample.shape[1]) if int(sample[:, j].max()) > c]
        if not sources:
            continue
        group = net.create_neuron_group(f"inputs_{c}", len(sources), soma_hw_name="loihi_inputs[0]")
        pairs = []
        for k, (neuron, j) in enumerate(zip(group.neurons, sources, strict=True)):
            where = placement.take(0)
            unit = unit_of_core.get(where, 0)
            unit_of_core[where] = unit + 1
            train = [bool(v) for v in (sample[:, j] > c)]
            neuron.set_attributes(soma_hw_name=f"loihi_inputs[{unit}]", model_attributes={"spikes": train})
            tile, core = _loihi_core(where, mesh_cols)
            neuron.map_to_core(loihi_cores[tile][core])
            pairs += [(k, int(t)) for t in targets[j]]
        if pairs:
            group.connect_neurons_sparse(outputs, {"weight": [1.0] * len(pairs)}, pairs)
    chip = sanafe.SpikingChip(arch)
    with _quiet_stdout():
        chip.load(net)
        result = chip.sim(rows, processing_threads=1)
    energy = {k: float(v) * 1e12 for k, v in result["energy"].items()}
    input_spikes = float(sample.sum())
    return {
        "energy_pj": {b: energy.get(b, 0.0) for b in BLOCKS},
        "latency_us": float(result["sim_time"]) * 1e6,
        "output_spikes": max(float(result["neurons_fired"]) - input_spikes, 0.0),
    }


def _blocks(energy_by_category: dict[str, float]) -> dict[str, float]:
    blocks = {b: 0.0 for b in (*BLOCKS, "other")}
    for category in CATEGORIES:
        blocks[CATEGORY_BLOCK[category]] += float(energy_by_category[category])
    return blocks


def crosscheck(
    trace: WorkloadTrace, chip: ChipConfig, *, seed: int = 0, max_steps: int | None = None
) -> CrosscheckReport:
    """Replay a trace's real spike samples through SANA-FE's Loihi and codesign's two models.

    Args:
        trace: a recorded trace with spike samples.
        chip: the chip codesign costs (its mapping places the outputs; at most 128 cores).
        seed: seed of the random synapses (each layer's is derived from it and its name).
        max_steps: replay at most this many sample rows per layer (None: all).

    Returns:
        The per-layer and total comparison.

    Raises:
        SanafeMissing: SANA-FE is not installed.
        ValueError: the chip has more cores than SANA-FE's Loihi, or nothing can be replayed.
    """
    sanafe = import_sanafe()
    if chip.cores > LOIHI_CORES:
        raise ValueError(f"chip has {chip.cores} cores; SANA-FE's Loihi has {LOIHI_CORES}")
    arch_path = str(resources.files("sanafe.examples").joinpath("loihi.yaml"))
    names, skipped = replayable(trace)
    if not names:
        raise ValueError("no layer of the trace can be replayed (weight layers with spike inputs and a spike sample)")
    mesh_cols = chip.mesh_cols or math.ceil(math.sqrt(chip.cores))
    full = estimate_cost(trace, chip)
    by_layer = full.energy_by_layer_pj
    out: list[LayerCrosscheck] = []
    for name in names:
        layer = trace.layer(name)
        sample = trace.spike_samples[name].astype(np.int64)
        if max_steps is not None:
            sample = sample[:max_steps]
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        n_out, targets = _connectivity(layer, sample.shape[1], rng)
        synapses = np.array([t.size for t in targets], dtype=float)
        level_sum = float(sample.sum())
        fan_out = float((sample.sum(axis=0) * synapses).sum() / level_sum) if level_sum else 0.0
        probe = _replay_trace(layer, sample, fan_out, n_out, 0.0)
        arrays = LayerArrays.from_trace(probe)
        columns = {k: v[:, None] for k, v in ChipArray.from_configs([chip]).columns.items()}
        placement = map_layers(arrays, columns, layer_work(arrays, columns))
        cores, shares = core_shares(placement, 0, 0)
        slot = np.searchsorted(np.cumsum(shares), (np.arange(n_out) + 0.5) / n_out, side="right")
        out_cores = cores[np.minimum(slot, len(cores) - 1)]
        result = _run_sanafe(sanafe, arch_path, sample, targets, n_out, out_cores, mesh_cols)
        replay = _replay_trace(layer, sample, fan_out, n_out, result["output_spikes"])
        analytic = estimate_cost(replay, chip)
        simulated = simulate(replay, chip, seed=seed, match_counts=False)
        out.append(LayerCrosscheck(
            name=name,
            steps=int(sample.shape[0]),
            input_spikes=level_sum,
            synaptic_ops=level_sum * fan_out,
            output_neurons=n_out,
            output_spikes=result["output_spikes"],
            energy_by_block_pj={
                "analytic": _blocks(analytic.energy_by_category_pj),
                "simulated": _blocks(simulated.energy_by_category_pj),
                "sanafe": {**result["energy_pj"], "other": 0.0},
            },
            latency_us={
                "analytic": analytic.latency_ms * 1e3,
                "simulated": simulated.latency_ms * 1e3,
                "sanafe": result["latency_us"],
            },
        ))
    total = float(full.total_energy_pj)
    covered = sum(float(by_layer[n]) for n in names if n in by_layer)
    return CrosscheckReport(
        chip=chip.name, architecture="loihi (sanafe/examples/loihi.yaml)", layers=tuple(out),
        skipped=skipped, coverage=covered / total if total else 0.0,
    )
