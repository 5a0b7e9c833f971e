"""Cross-check of the analytic chip model against SANA-FE's silicon-calibrated Loihi model.

SANA-FE (Boyle et al., "SANA-FE: simulating advanced neuromorphic architectures for fast
exploration", IEEE TCAD 44(8), 2025, doi:10.1109/TCAD.2025.3537971; ``pip install sanafe``) simulates spiking chips from per-event
energies and latencies. Its Loihi architecture (``sanafe/examples/loihi.yaml``) carries the
constants of Davies et al. 2018 and the simulator is reported within 12 % of Loihi's measured
energy and 25 % of its latency. SANA-FE is GPL-3.0 and codesign Apache-2.0: this module is
an optional extra (``pip install 'codesign[sanafe]'``), imported only by ``codesign hw
crosscheck`` and the benchmark, never by ``codesign.hardware`` or any other core module.

How a trace is replayed: the whole network at once, on the mapping codesign estimates for it.

- Every weight layer whose inputs are spikes and that has a spike sample is replayed; all of
  them run in the same SANA-FE timesteps, one per sample row (the first ``R`` rows of each,
  ``R`` the shortest sample), as a ``timestep_parallel`` chip runs them.
- Where each layer sits is codesign's own mapping of the whole trace (:func:`map_layers` on
  the full trace, the policy and core count of the chip), so the cores, the tiles in use and
  the hops are the ones codesign priced. codesign's cores are numbered row-major on its mesh;
  a Loihi tile is 2 x 2 of them, and SANA-FE numbers its tiles column-major (tile ``x * 4 +
  y`` on its 8 x 4 grid), which :func:`loihi_core` follows.
- A replayed layer's inputs are SANA-FE ``input`` neurons fed with the sample's spike trains,
  on the cores of the layer before it in the trace (the host, core 0, for the first), each
  input on the core codesign's simulator gives it. Loihi's spikes are binary, so a level-k
  input is k input neurons firing in the same step (codesign's split graded spikes).
- Its outputs are LIF neurons (threshold 4) on the layer's cores. Each input connects to
  the stored fan-out of the layer (every stored weight, zeros included, on a chip without
  ``sparse_weights``; only the nonzero ones with it), drawn at random (seeded); a fraction
  of them, the layer's nonzero fan-out, has weight 1, the rest weight 0. SANA-FE processes
  every listed synapse, so its synaptic operations are those codesign charges.
- Cores codesign uses that hold no replayed neuron get one silent input neuron (no cost), so
  SANA-FE's synchronisation sees the tiles in use that codesign's does.
- codesign's analytic model and its event-driven simulator cost the replayed trace (the full
  trace's layers, the replayed ones with the sample's counts and SANA-FE's output spikes,
  the others idle) on the full trace's placement (:func:`place`, computed once: ``placement=``).
- Latency is compared over the ``R`` replayed steps, without the pipeline fill: the replay
  drives every layer from its recorded spikes at once, so SANA-FE has no fill to show.

Not replayed (reported as skipped with the reason, and idle on both sides): layers with
real-valued inputs (Loihi takes spikes only; the host computes them), activation-activation
products (attention, no stored weights to map) and state updates (scans), which SANA-FE's
Loihi cannot express. ``coverage`` is the replayed layers' share of the whole trace's energy.
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
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from codesign.hardware._chip import ChipArray, ChipConfig
from codesign.hardware._energy import cost_category
from codesign.hardware._model import (
    LayerArrays,
    LayerPlacement,
    _stored_fan_out,
    core_shares,
    estimate_cost,
    layer_work,
    pipeline_depth,
    place,
    used_cores,
)
from codesign.hardware._simulator import simulate
from codesign.trace import LayerTrace, WorkloadTrace

INSTALL_HINT = "pip install 'codesign[sanafe]'"
#: SANA-FE's energy blocks; where codesign's categories fall among them is each category's own
#: ``sanafe_block`` (``codesign.hardware.CostCategory``).
BLOCKS = ("synapse", "dendrite", "soma", "network")
SOURCES = ("analytic", "simulated", "sanafe")

#: SANA-FE's Loihi: 8 x 4 tiles of 4 cores, 1024 neurons and 1024 input units per core.
LOIHI_TILES_X, LOIHI_TILES_Y, LOIHI_CORES_PER_TILE, LOIHI_CORE_NEURONS = 8, 4, 4, 1024
LOIHI_CORES = LOIHI_TILES_X * LOIHI_TILES_Y * LOIHI_CORES_PER_TILE
#: Output LIF neurons: unit weights and this threshold (some fire, so spike costs are exercised).
OUTPUT_THRESHOLD = 4.0


class SanafeMissing(RuntimeError):
    """SANA-FE is not installed (it is the optional extra ``codesign[sanafe]``)."""


def import_sanafe() -> ModuleType:
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
    module: ModuleType = sanafe
    return module


@dataclass(frozen=True)
class CrosscheckReport:
    """Analytic model, event-driven simulator and SANA-FE on the same replayed network.

    Attributes:
        chip, cores: the chip codesign costs (its core count).
        architecture: SANA-FE's architecture file.
        layers: the replayed layers; ``skipped`` every other weight or product layer, with why.
        steps: SANA-FE timesteps replayed (sample rows).
        tiles: Loihi tiles holding a neuron (SANA-FE's synchronisation table looks them up).
        energy_by_block_pj: per source (analytic, simulated, sanafe), pJ per block (synapse,
            dendrite, soma, network, other).
        latency_us: per source, over the replayed steps (no pipeline fill); ``sanafe`` is
            SANA-FE's default (detailed) timing model, ``sanafe_simple`` its simple one (each
            core's busier of neuron and message processing, the busiest core, the sync: no
            network interactions), for reference.
        counts: per source where known: synaptic operations, messages, neuron updates, spikes.
        coverage: the replayed layers' share of codesign's energy for the whole trace.
    """

    chip: str
    cores: int
    architecture: str
    layers: tuple[str, ...]
    steps: int
    tiles: int
    energy_by_block_pj: dict[str, dict[str, float]]
    latency_us: dict[str, float]
    counts: dict[str, dict[str, float]]
    skipped: dict[str, str] = field(default_factory=dict)
    coverage: float = 0.0

    def total_energy_pj(self, source: str) -> float:
        return float(sum(self.energy_by_block_pj[source].values()))

    def energy_rel_error(self, source: str = "analytic") -> float:
        """``(source − SANA-FE) / SANA-FE`` on total energy."""
        ref = self.total_energy_pj("sanafe")
        return (self.total_energy_pj(source) - ref) / ref if ref else 0.0

    def latency_rel_error(self, source: str = "analytic") -> float:
        """``(source − SANA-FE) / SANA-FE`` on latency."""
        ref = self.latency_us["sanafe"]
        return (self.latency_us[source] - ref) / ref if ref else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "chip": self.chip,
            "cores": self.cores,
            "architecture": self.architecture,
            "layers": list(self.layers),
            "steps": self.steps,
            "tiles": self.tiles,
            "coverage": self.coverage,
            "skipped": dict(self.skipped),
            "total_energy_pj": {s: self.total_energy_pj(s) for s in SOURCES},
            "energy_by_block_pj": self.energy_by_block_pj,
            "latency_us": self.latency_us,
            "counts": self.counts,
            "energy_rel_error": {s: self.energy_rel_error(s) for s in SOURCES[:2]},
            "latency_rel_error": {s: self.latency_rel_error(s) for s in SOURCES[:2]},
            "latency_rel_error_vs_sanafe_simple": {
                s: (self.latency_us[s] - self.latency_us["sanafe_simple"]) / self.latency_us["sanafe_simple"]
                for s in SOURCES[:2] if self.latency_us.get("sanafe_simple")
            },
        }

    def table(self) -> str:
        """The comparison as text: totals and blocks, analytic and simulated against SANA-FE."""
        lines = [
            f"chip {self.chip} ({self.cores} cores, {self.tiles} tiles in use) vs SANA-FE {self.architecture}: "
            f"{len(self.layers)} replayed layers over {self.steps} steps, carrying {100 * self.coverage:.1f}% "
            "of the analytic energy of the whole trace",
            f"{'figure':<26}{'analytic':>14}{'simulated':>14}{'SANA-FE':>14}{'analytic err':>14}",
            _row("energy_pj", *(self.total_energy_pj(s) for s in SOURCES)),
            *self._block_rows(),
            _row("latency_us", *(self.latency_us[s] for s in SOURCES)),
            *self._simple_rows(),
            *(_row(key, *(self.counts[s].get(key, float("nan")) for s in SOURCES)) for key in self.counts["sanafe"]),
        ]
        if self.skipped:
            lines.append("")
            lines.append("not replayed: " + "; ".join(f"{k} ({v})" for k, v in self.skipped.items()))
        return "\n".join(lines)

    def _block_rows(self) -> list[str]:
        """One row per energy block any source charges."""
        rows = [(block, [self.energy_by_block_pj[s][block] for s in SOURCES]) for block in (*BLOCKS, "other")]
        return [_row(f"  {block}_pj", *values) for block, values in rows if any(values)]

    def _simple_rows(self) -> list[str]:
        """The latencies against SANA-FE's simple timing model, when it was run."""
        if "sanafe_simple" not in self.latency_us:
            return []
        return [_row("  vs SANA-FE simple", self.latency_us["analytic"], self.latency_us["simulated"],
                     self.latency_us["sanafe_simple"])]


def _row(name: str, a: float, s: float, f: float) -> str:
    """One row of :meth:`CrosscheckReport.table`: analytic, simulated, SANA-FE and the analytic error."""
    err = f"{(a - f) / f:+.1%}" if f else "-"
    return f"{name:<26}{a:>14.6g}{s:>14.6g}{f:>14.6g}{err:>14}"


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


def loihi_core(core: int, mesh_cols: int) -> tuple[int, int]:
    """codesign core index (row-major on a ``mesh_cols``-wide mesh) -> SANA-FE Loihi (tile, core).

    A tile is 2 x 2 cores of the mesh; SANA-FE numbers its 8 x 4 tiles column-major (tile
    ``x * 4 + y``), so mesh geometry and hop counts are the same on both sides.
    """
    x, y = core % mesh_cols, core // mesh_cols
    tile_x, tile_y = x // 2, y // 2
    if tile_x >= LOIHI_TILES_X or tile_y >= LOIHI_TILES_Y:
        raise ValueError(f"core {core} of a {mesh_cols}-column mesh lies outside SANA-FE's 8 x 4 Loihi tiles")
    return tile_x * LOIHI_TILES_Y + tile_y, (y % 2) * 2 + x % 2


class _Placement:
    """Neurons per SANA-FE core, never more than a Loihi core holds."""

    def __init__(self) -> None:
        self.used = np.zeros(LOIHI_CORES, dtype=int)

    def take(self, core: int) -> int:
        """The wanted core, if it has room.

        Raises:
            ValueError: it is full; moving the neuron elsewhere would replay another mapping.
        """
        if self.used[core] >= LOIHI_CORE_NEURONS:
            raise ValueError(f"the replay puts more than {LOIHI_CORE_NEURONS} neurons (outputs and the input "
                             f"neurons standing for their sources) on core {core}, more than a Loihi core holds "
                             "(SANA-FE's dendrites hold at most 1024 per core, whatever the architecture file says)")
        self.used[core] += 1
        return core


@dataclass
class _Layer:
    """One replayed layer: its sample rows, connections and cores."""

    index: int
    name: str
    sample: np.ndarray
    n_out: int
    targets: list[np.ndarray]
    weights: list[np.ndarray]
    out_cores: np.ndarray
    in_cores: np.ndarray
    fan_out_nonzero: float
    fan_out_stored: float


def _connect(layer: LayerTrace, width: int, sparse: bool, rng: np.random.Generator
             ) -> tuple[int, list[np.ndarray], list[np.ndarray]]:
    """Output neurons and, per input, its targets and their weights (1 nonzero, 0 zero)."""
    stored = _stored_fan_out(layer)
    nonzero = float(layer.fan_out)
    per_input = nonzero if sparse else stored
    n_out = max(int(np.prod(layer.out_shape)) if layer.out_shape else 1, math.ceil(per_input))
    base = math.floor(per_input)
    counts = np.minimum(base + (rng.random(width) < per_input - base), n_out)
    p_nonzero = nonzero / per_input if per_input > 0 else 0.0
    targets = [np.sort(rng.choice(n_out, size=int(k), replace=False)) for k in counts]
    weights = [(rng.random(t.size) < p_nonzero).astype(float) for t in targets]
    return n_out, targets, weights


def _by_share(cores: np.ndarray, shares: np.ndarray, n: int) -> np.ndarray:
    """The core of each of ``n`` positions when ``cores`` hold ``shares`` of them in order."""
    slot = np.searchsorted(np.cumsum(shares), (np.arange(n) + 0.5) / n, side="right")
    return cores[np.minimum(slot, len(cores) - 1)]


def _interleaved(entries: list[_Entry]) -> list[tuple[_Neuron, list[bool] | None]]:
    """A core's neurons in processing order: by layer, each layer's neurons (no spike train)
    with the input neurons it drives (tagged with that layer) spread evenly among them."""
    by_layer: dict[int, tuple[list[_Neuron], list[tuple[_Neuron, list[bool]]]]] = {}
    for layer, neuron, spikes in entries:
        neurons, sends = by_layer.setdefault(layer, ([], []))
        if spikes is None:
            neurons.append(neuron)
        else:
            sends.append((neuron, spikes))
    out: list[tuple[_Neuron, list[bool] | None]] = []
    for layer in sorted(by_layer):
        neurons, sends = by_layer[layer]
        if not neurons:
            out += sends
            continue
        # send k goes after neuron floor((k + 1) * n / m) - 1: evenly through the sweep
        marks = [((k + 1) * len(neurons)) // max(len(sends), 1) for k in range(len(sends))]
        k = 0
        for i, neuron in enumerate(neurons):
            out.append((neuron, None))
            while k < len(sends) and marks[k] <= i + 1:
                out.append(sends[k])
                k += 1
        out += sends[k:]
    return out


class _Neuron(Protocol):
    """What the replay does with a SANA-FE neuron (``sanafe.Neuron``)."""

    def set_attributes(self, **attributes: object) -> None: ...

    def map_to_core(self, core: object) -> None: ...


#: A core's neurons as queued: (layer, neuron, its spike train or None for an output neuron).
_Entry = tuple[int, _Neuron, list[bool] | None]


class _Network:
    """The replayed network as SANA-FE neurons, each queued on the core codesign's mapping gives it."""

    def __init__(self, sanafe: ModuleType, arch: Any) -> None:
        self.net = sanafe.Network()
        self.placement = _Placement()
        self.loihi_cores = [list(tile.cores) for tile in arch.tiles]  # pybind lists are rebuilt on each access
        # Neurons a core processes, in order: a core sweeps the neurons of each layer it holds,
        # and the inputs a layer's neurons send on (the next layer's input neurons) are
        # interleaved among them, as a spike leaves right after its neuron's update.
        self.order: dict[int, list[_Entry]] = {}

    def queue(self, neuron: _Neuron, core: int, layer: int, spikes: list[bool] | None) -> None:
        self.order.setdefault(self.placement.take(core), []).append((layer, neuron, spikes))

    def add_layer(self, layer: _Layer) -> None:
        """The layer's LIF outputs on its cores and, per input level, its input neurons (on the
        cores of their sources) with their synapses."""
        outputs = self.net.create_neuron_group(
            f"out{layer.index}", layer.n_out, model_attributes={"threshold": OUTPUT_THRESHOLD},
            soma_hw_name="loihi_lif", default_synapse_hw_name="loihi_dense_synapse",
        )
        sample = layer.sample
        for c in range(int(sample.max())):
            sources = [j for j in range(sample.shape[1]) if int(sample[:, j].max()) > c]
            if sources:
                self._add_inputs(layer, c, sources, outputs)
        for i, neuron in enumerate(outputs.neurons):
            neuron.set_attributes(log_spikes=True)
            self.queue(neuron, int(layer.out_cores[i]), layer.index, None)

    def _add_inputs(self, layer: _Layer, level: int, sources: list[int], outputs: object) -> None:
        """Input neurons firing where the sample's inputs ``sources`` exceed ``level``."""
        sample = layer.sample
        group = self.net.create_neuron_group(f"in{layer.index}_{level}", len(sources), soma_hw_name="loihi_inputs[0]")
        pairs: list[tuple[int, int]] = []
        weights: list[float] = []
        for k, (neuron, j) in enumerate(zip(group.neurons, sources, strict=True)):
            self.queue(neuron, int(layer.in_cores[j]), layer.index - 1, [bool(v) for v in (sample[:, j] > level)])
            pairs += [(k, int(t)) for t in layer.targets[j]]
            weights += [float(w) for w in layer.weights[j]]
        if pairs:
            group.connect_neurons_sparse(outputs, {"weight": weights}, pairs)

    def add_idle(self, used: int, steps: int) -> None:
        """Cores codesign uses but no replayed neuron sits on: one silent input neuron each."""
        idle = [c for c in range(used) if c not in self.order]
        if idle:
            group = self.net.create_neuron_group("idle", len(idle), soma_hw_name="loihi_inputs[0]")
            for neuron, core in zip(group.neurons, idle, strict=True):
                self.queue(neuron, core, -1, [False] * steps)

    def map_to(self, mesh_cols: int) -> None:
        """Each queued neuron onto its Loihi core, in processing order (inputs on the core's input units)."""
        for core, entries in self.order.items():
            tile, offset = loihi_core(core, mesh_cols)
            hw = self.loihi_cores[tile][offset]
            unit = 0
            for neuron, spikes in _interleaved(entries):
                if spikes is not None:
                    neuron.set_attributes(soma_hw_name=f"loihi_inputs[{unit}]", model_attributes={"spikes": spikes})
                    unit += 1
                neuron.map_to_core(hw)


def _fired(result: dict[str, Any], layers: list[_Layer]) -> dict[int, float]:
    """Output spikes of each replayed layer in SANA-FE's spike trace."""
    fired = {layer.index: 0.0 for layer in layers}
    names = {f"out{layer.index}": layer.index for layer in layers}
    for step in result["spike_trace"]:
        for address in step:
            index = names.get(str(address.group_name))
            if index is not None:
                fired[index] += 1.0
    return fired


def _run_sanafe(sanafe: ModuleType, arch_path: str, layers: list[_Layer], used: int, mesh_cols: int,
                steps: int) -> dict[str, Any]:
    """Simulate the replayed network on SANA-FE's Loihi; energies in pJ, time in µs."""
    arch = sanafe.load_arch(arch_path)
    network = _Network(sanafe, arch)
    for layer in layers:
        network.add_layer(layer)
    network.add_idle(used, steps)
    network.map_to(mesh_cols)
    chip = sanafe.SpikingChip(arch)
    simple = sanafe.SpikingChip(arch)
    with _quiet_stdout():
        chip.load(network.net)
        result = chip.sim(steps, processing_threads=1, spike_trace=True)
        # SANA-FE's own analytic timing model (each core's busier of neuron and message
        # processing, the busiest core, plus the sync; no network interactions), for reference.
        simple.load(network.net)
        simple_time = float(simple.sim(steps, timing_model="simple", processing_threads=1)["sim_time"])
    energy = {k: float(v) * 1e12 for k, v in result["energy"].items()}
    tiles = {loihi_core(c, mesh_cols)[0] for c in network.order}
    return {
        "energy_pj": {b: energy.get(b, 0.0) for b in BLOCKS},
        "latency_us": float(result["sim_time"]) * 1e6,
        "latency_simple_us": simple_time * 1e6,
        "fired": _fired(result, layers),
        "tiles": len(tiles),
        "spikes": float(result["spikes"]),
    }


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



def _blocks(energy_by_category: dict[str, float]) -> dict[str, float]:
    blocks = {b: 0.0 for b in (*BLOCKS, "other")}
    for category, energy_pj in energy_by_category.items():
        block = cost_category(category).sanafe_block
        blocks[block if block in blocks else "other"] += float(energy_pj)
    return blocks


def _replay_trace(trace: WorkloadTrace, layers: list[_Layer], fired: dict[int, float], steps: int) -> WorkloadTrace:
    """The whole trace with the replayed layers' counts and every other layer idle."""
    replayed = {layer.index: layer for layer in layers}
    out = []
    for i, layer in enumerate(trace.layers):
        idle = {"steps": steps, "input_events": 0.0, "input_level_sum": 0.0, "input_size": 0.0, "fan_out": 0.0,
                "output_spikes": 0.0, "output_level_sum": 0.0, "neuron_evaluations": 0.0, "aux_ops": 0.0,
                "dense_macs": 0.0, "binary_input_ops": 0.0, "state_overflows": 0.0}
        if i in replayed:
            r = replayed[i]
            rows, width = r.sample.shape
            levels = r.sample.sum(axis=0).astype(float)
            level_sum = float(levels.sum())
            nonzero = np.array([w.sum() for w in r.weights])
            stored = np.array([t.size for t in r.targets], dtype=float)
            # Synaptic operations as SANA-FE counts them: every listed synapse of every input spike.
            fan_nonzero = float((levels * nonzero).sum() / level_sum) if level_sum else 0.0
            fan_stored = float((levels * stored).sum() / level_sum) if level_sum else 0.0
            idle.update({
                "input_size": float(rows * width),
                "input_events": float(np.count_nonzero(r.sample)),
                "input_level_sum": level_sum,
                "levels": int(r.sample.max()),
                "fan_out": fan_nonzero,
                "dense_macs": float(rows * width) * fan_stored,
                "neuron_evaluations": float(r.n_out * rows),
                "output_spikes": fired[i],
                "output_level_sum": fired[i],
            })
        out.append(layer.model_copy(update=idle))
    meta = trace.meta.model_copy(update={"layers": tuple(out), "frames": float(steps)})
    samples = {r.name: r.sample.astype(np.uint8) for r in layers}
    return WorkloadTrace(meta=meta, spike_samples=samples)


def _loihi_mesh_cols(chip: ChipConfig) -> int:
    """The chip's mesh width, once its cores are known to fit SANA-FE's 16 x 8 Loihi cores.

    Raises:
        ValueError: more cores than Loihi's, or a mesh wider or taller than its.
    """
    if chip.cores > LOIHI_CORES:
        raise ValueError(f"chip has {chip.cores} cores; SANA-FE's Loihi has {LOIHI_CORES}")
    mesh_cols = chip.mesh_cols or math.ceil(math.sqrt(chip.cores))
    if mesh_cols > 2 * LOIHI_TILES_X or math.ceil(chip.cores / mesh_cols) > 2 * LOIHI_TILES_Y:
        raise ValueError(f"a {mesh_cols}-column mesh of {chip.cores} cores does not fit SANA-FE's 16 x 8 Loihi cores")
    return mesh_cols


def _replayed_layer(trace: WorkloadTrace, i: int, steps: int, placement: LayerPlacement, sparse: bool,
                    seed: int) -> _Layer:
    """Layer ``i`` as replayed: its first ``steps`` sample rows, random synapses (seeded by the
    seed and its name), outputs on its cores and inputs on its sources' (the host's, core 0, for
    the first layer), as the placement puts them."""
    layer = trace.layers[i]
    sample = trace.spike_samples[layer.name][:steps].astype(np.int64)
    rng = np.random.default_rng([seed, zlib.crc32(layer.name.encode())])
    n_out, targets, weights = _connect(layer, sample.shape[1], sparse, rng)
    cores, shares = core_shares(placement, 0, i)
    if i == 0:
        in_cores = np.zeros(sample.shape[1], dtype=np.intp)
    else:
        src, src_shares = core_shares(placement, 0, i - 1)
        in_cores = _by_share(src, src_shares, sample.shape[1])
    return _Layer(index=i, name=layer.name, sample=sample, n_out=n_out, targets=targets, weights=weights,
                  out_cores=_by_share(cores, shares, n_out), in_cores=in_cores,
                  fan_out_nonzero=float(layer.fan_out), fan_out_stored=_stored_fan_out(layer))


def crosscheck(
    trace: WorkloadTrace, chip: ChipConfig, *, seed: int = 0, max_steps: int | None = None
) -> CrosscheckReport:
    """Replay a whole network's spike samples through SANA-FE's Loihi and codesign's two models.

    Args:
        trace: a recorded trace with spike samples.
        chip: the chip codesign costs (its mapping places the neurons; at most 128 cores, a
            mesh at most 16 cores wide and 8 high).
        seed: seed of the random synapses (each layer's is derived from it and its name).
        max_steps: replay at most this many sample rows (None: the shortest sample's).

    Returns:
        The comparison of the whole replay.

    Raises:
        SanafeMissing: SANA-FE is not installed.
        ValueError: the chip does not fit SANA-FE's Loihi, or nothing can be replayed.
    """
    sanafe = import_sanafe()
    mesh_cols = _loihi_mesh_cols(chip)
    arch_path = str(resources.files("sanafe.examples").joinpath("loihi.yaml"))
    names, skipped = replayable(trace)
    if not names:
        raise ValueError("no layer of the trace can be replayed (weight layers with spike inputs and a spike sample)")
    steps = min(trace.spike_samples[n].shape[0] for n in names)
    if max_steps is not None:
        steps = min(steps, max_steps)
    # codesign's own mapping of the whole network: the one placement all three sources use.
    placement = place(trace, chip)
    columns = ChipArray.from_configs([chip]).block()
    used = int(used_cores(placement, columns.cores)[0, 0])
    index = {layer.name: i for i, layer in enumerate(trace.layers)}
    layers = [_replayed_layer(trace, index[name], steps, placement, chip.sparse_weights, seed) for name in names]
    result = _run_sanafe(sanafe, arch_path, layers, used, mesh_cols, steps)
    replay = _replay_trace(trace, layers, result["fired"], steps)
    analytic = estimate_cost(replay, chip, placement=placement)
    simulated = simulate(replay, chip, seed=seed, match_counts=False, placement=placement)
    # Over the replayed steps: a timestep-parallel chip's pipeline fill is not part of the replay.
    replay_arrays = LayerArrays.from_trace(replay)
    n_steps = float(replay_arrays.steps.max())
    fill = (n_steps + pipeline_depth(replay_arrays)) / n_steps if chip.execution == "timestep_parallel" else 1.0
    ops = float(np.sum([(r.sample.sum(axis=0) * np.array([t.size for t in r.targets])).sum() for r in layers]))
    return CrosscheckReport(
        chip=chip.name, cores=chip.cores, architecture="loihi (sanafe/examples/loihi.yaml)",
        layers=tuple(names), steps=steps, tiles=result["tiles"],
        energy_by_block_pj={
            "analytic": _blocks(analytic.energy_by_category_pj),
            "simulated": _blocks(simulated.energy_by_category_pj),
            "sanafe": {**result["energy_pj"], "other": 0.0},
        },
        latency_us={
            "analytic": analytic.latency_ms * 1e3 / fill,
            "simulated": simulated.latency_ms * 1e3 / fill,
            "sanafe": result["latency_us"],
            "sanafe_simple": result["latency_simple_us"],
        },
        counts={
            "analytic": {"synaptic_ops": float(layer_work(replay_arrays, columns).synaptic_ops.sum()),
                         "output_spikes": float(replay_arrays.output_spikes.sum())},
            "simulated": {"synaptic_ops": float(simulated.counts["synaptic_ops"]),
                          "output_spikes": float(replay_arrays.output_spikes.sum())},
            "sanafe": {"synaptic_ops": ops, "output_spikes": float(sum(result["fired"].values()))},
        },
        skipped=skipped, coverage=_coverage(trace, chip, names),
    )


def _coverage(trace: WorkloadTrace, chip: ChipConfig, names: list[str]) -> float:
    """The replayed layers' share of the whole trace's analytic energy on the chip."""
    full = estimate_cost(trace, chip)
    total = float(full.total_energy_pj)
    covered = sum(float(full.energy_by_layer_pj[n]) for n in names)
    return covered / total if total else 0.0
