"""``codesign hw``: evaluate, simulate and sweep chips against a workload trace (thin layer)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from codesign.config import ConfigError, parse_set_args

if TYPE_CHECKING:
    import pandas as pd

    from codesign.export import Rescored
    from codesign.hardware import ChipConfig, CostReport
    from codesign.snn import Precision
    from codesign.trace import WorkloadTrace


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("hw", help="neuromorphic chip model: evaluate, simulate, sweep")
    sub = parser.add_subparsers(dest="hw_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        source = p.add_mutually_exclusive_group(required=True)
        source.add_argument("--trace", help="workload trace (.npz from the recorder)")
        source.add_argument("--bundle", help="an exported design bundle: its network on its own chip, or on --chip")
        p.add_argument("--chip", default=None,
                       help="preset name or hw_models/<preset>.yaml (default: the bundle's own chip with "
                            "--bundle, generic_45nm with --trace)")
        p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a chip field (repeatable), e.g. --set cores=8")
        p.add_argument("--json", action="store_true", help="print JSON instead of tables")
        p.add_argument("--requantise", action="store_true",
                       help="price a quantised trace's weights at the chip's weight_bits when they differ "
                            "from the bits it was recorded at (its activity stays the recorded network's); without "
                            "it such a pair is refused (hw evaluate --bundle re-quantises and re-scores the network instead)")

    ev = sub.add_parser("evaluate", help="analytic energy / cycles / area breakdown")
    common(ev)
    ev.set_defaults(func=_evaluate)

    sim = sub.add_parser("simulate", help="event-driven simulation beside the analytic figures")
    common(sim)
    sim.add_argument("--seed", type=int, default=0, help="seed for layers without spike samples")
    sim.set_defaults(func=_simulate)

    sw = sub.add_parser("sweep", help="Pareto-optimal chips over a search space or a parameter grid")
    common(sw)
    sw.add_argument("--space", help="search_spaces/<accelerator>.yaml (hw.* parameters)")
    sw.add_argument("--grid", nargs="+", default=[], metavar="KEY=V1,V2",
                    help="grid axes, e.g. cores=4,8,16 pes_per_core=2,8")
    sw.add_argument("--objectives", default="energy_uj,latency_ms,area_mm2",
                    help="comma-separated metrics to minimise")
    sw.add_argument("--points", type=int, default=4096,
                    help="--space: evaluate the full grid up to this many chips, else sample this many")
    sw.add_argument("--seed", type=int, default=0, help="--space: sampling seed")
    sw.set_defaults(func=_sweep)

    cc = sub.add_parser(
        "crosscheck",
        help="replay the trace's spike samples through SANA-FE's Loihi beside the analytic model and simulator",
        description="Cross-check against SANA-FE (optional extra, GPL-3.0: pip install 'codesign[sanafe]').",
    )
    cc.add_argument("--trace", required=True, help="workload trace (.npz from the recorder) with spike samples")
    cc.add_argument("--chip", default="loihi_sanafe", help="preset name or YAML path (at most 128 cores)")
    cc.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a chip field (repeatable)")
    cc.add_argument("--seed", type=int, default=0, help="seed of the replayed synapses")
    cc.add_argument("--max-steps", type=int, default=None, help="replay at most this many sample rows")
    cc.add_argument("--cores", type=int, nargs="+", default=None, metavar="N",
                    help="also check the chip cut to these core counts (a mesh of ceil(sqrt(N)) columns; "
                         "the chip's own count keeps its mesh)")
    cc.add_argument("--json", action="store_true", help="print JSON instead of the table")
    cc.set_defaults(func=_crosscheck)

    pr = sub.add_parser("presets", help="list the chip presets")
    pr.set_defaults(func=_presets)

    syn = sub.add_parser("synthetic-trace", help="write a random trace with spike samples (for trying the model)")
    syn.add_argument("--out", required=True)
    syn.add_argument("--layers", type=int, default=4)
    syn.add_argument("--steps", "--timesteps", dest="steps", type=int, default=20,
                     help="steps every layer runs per inference (--timesteps: the former name)")
    syn.add_argument("--levels", type=int, default=1)
    syn.add_argument("--rate", type=float, default=0.1)
    syn.add_argument("--seed", type=int, default=0)
    syn.set_defaults(func=_synthetic)


#: The chip of ``--trace`` without ``--chip``.
DEFAULT_CHIP = "generic_45nm"


def _chip(args: argparse.Namespace) -> ChipConfig:
    """``--chip`` with ``--set`` overrides; without ``--chip``, the bundle's own chip (with
    ``--bundle``) or :data:`DEFAULT_CHIP`."""
    from codesign.hardware import load_chip

    overrides = parse_set_args(args.overrides)
    if args.chip is None and args.bundle:
        from codesign.export import bundle_chip

        return bundle_chip(args.bundle, overrides)
    return load_chip(args.chip or DEFAULT_CHIP, overrides)


def _load(args: argparse.Namespace, check_bits: bool = True) -> tuple[WorkloadTrace, ChipConfig]:
    """The trace (``--trace``, or the bundle's) and the chip; a trace recorded at other weight
    bits than the chip's is refused (naming the file or bundle), unless ``--requantise``."""
    from codesign.hardware import check_weight_bits

    chip = _chip(args)
    if args.bundle:
        from codesign.export import bundle_trace

        trace, source = bundle_trace(args.bundle), args.bundle
    else:
        from codesign.trace import load_trace

        trace, source = load_trace(args.trace), args.trace
    if check_bits and not args.requantise:
        check_weight_bits(trace, chip.weight_bits, file=source, chip_wide_weight_bits=chip.wide_weight_bits,
                          chip_tap_scales=chip.tap_scales)
    return trace, chip


def _chip_line(chip: ChipConfig) -> str:
    """What the chip is, from its fields (never from its description, which may describe the
    preset it was derived from)."""
    wide = chip.held_wide_weight_bits
    return (f"  {chip.cores} cores x {chip.pes_per_core} PEs, {chip.weight_bits}-bit weights"
            + (f" ({wide}-bit wide layers)" if wide is not None else "")
            + (" (a scale per kernel tap in the fused projections)" if chip.tap_scales else "") + ", "
            f"{chip.state_bits}-bit state, {chip.clock_mhz:g} MHz, {chip.node_nm} nm"
            + (f", {chip.voltage_v:g} V" if chip.voltage_v is not None else ""))


def _summary(report: CostReport, chip: ChipConfig | None = None) -> str:
    lines = [
        f"chip {report.chip_name}: {'feasible' if report.feasible else 'INFEASIBLE'}",
        *([_chip_line(chip)] if chip is not None else []),
        f"  energy   {report.energy_uj:.6g} uJ per inference",
        f"  cycles   {report.cycles:.6g}   latency {report.latency_ms:.6g} ms   "
        f"throughput {report.throughput_per_s:.6g} /s",
        f"  area     {report.area_mm2:.6g} mm^2   SRAM used {report.sram_used_kb:.6g} KB   "
        f"off-chip {report.offchip_bits:.6g} bits",
        "  utilisation " + ", ".join(f"{k} {v:.3g}" for k, v in report.utilisation.items()),
    ]
    lines += [f"  reason: {r}" for r in report.reasons]
    return "\n".join(lines)


def _precision_note(rescored: Rescored) -> str:
    """What the other chip's precision does to the bundle's network, in words."""
    from codesign.search import split_named

    names = [k for k in ("test_accuracy", "test_wer", "validation_accuracy", "validation_wer") if k in rescored.metrics]
    if not rescored.precision_changed:
        held = ", ".join(f"{split_named(k)} {rescored.metrics[k]:.4g}" for k in names)
        return ("network: same weight and state bits as the bundle's chip; its stored scores hold"
                + (f": {held}" if held else "") + "\n")
    figures = ", ".join(f"{split_named(k)} {rescored.metrics[k]:.4g} "
                        f"(bundle {rescored.stored_metrics.get(k, float('nan')):.4g})" for k in names)
    return ("network: this chip holds it at other weight/state bits, so it was re-quantised and re-scored: "
            f"{figures}\n")


def _evaluate(args: argparse.Namespace) -> int:
    from codesign.cli._progress import stderr_steps
    from codesign.hardware import estimate_cost

    rescored = None
    say = stderr_steps(not args.no_progress)
    if args.bundle:
        from codesign.export import rescore_bundle

        chip = _chip(args)
        if say is not None:
            source = f"--chip {args.chip}" if args.chip else "the bundle's own chip"
            say(f"chip: {source} ({chip.name})")
        rescored = rescore_bundle(args.bundle, chip, progress=not args.no_progress and not args.json, say=say)
        report = rescored.report
    else:
        trace, chip = _load(args)
        report = estimate_cost(trace, chip, requantise=args.requantise)
    if args.json:
        data = report.to_dict()
        if rescored is not None:
            data["network"] = {"precision_changed": rescored.precision_changed, "metrics": rescored.metrics,
                               "bundle_metrics": rescored.stored_metrics}
        print(json.dumps(data, indent=2))
        return 0
    if rescored is not None:
        print(_precision_note(rescored))
    print(_summary(report, chip))
    print("\nenergy per inference (pJ), layers x categories:")
    print(report.energy_table().to_string(float_format=lambda v: f"{v:.4g}"))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from codesign.hardware import estimate_cost, simulate

    trace, chip = _load(args)
    analytic = estimate_cost(trace, chip, requantise=args.requantise)
    sim = simulate(trace, chip, seed=args.seed, requantise=args.requantise)
    rows = [("cycles", analytic.cycles, sim.cycles), ("latency_ms", analytic.latency_ms, sim.latency_ms),
            ("energy_pj", analytic.total_energy_pj, sim.total_energy_pj)]
    rows += [(f"energy_{c}_pj", analytic.energy_by_category_pj[c], sim.energy_by_category_pj[c])
             for c in analytic.categories]
    if args.json:
        print(json.dumps({
            "analytic": analytic.to_dict(),
            "simulated": {"cycles": sim.cycles, "latency_ms": sim.latency_ms, "energy_pj_by_layer_category": sim.energy_by_layer_category_pj.tolist(),
                          "counts": sim.counts, "core_busy_cycles": sim.core_busy_cycles.tolist(),
                          "core_stall_cycles": sim.core_stall_cycles.tolist(),
                          "scaled_layers": list(sim.scaled_layers)},
        }, indent=2))
        return 0
    print(f"chip {chip.name}: analytic vs event-driven simulation (one inference)")
    print(f"{'figure':<28}{'analytic':>16}{'simulated':>16}{'diff':>9}")
    for name, a, s in rows:
        diff = (a - s) / s if s else 0.0
        print(f"{name:<28}{a:>16.6g}{s:>16.6g}{diff:>+9.2%}")
    print("\nsimulator counts: " + ", ".join(f"{k} {v:.6g}" for k, v in sim.counts.items()))
    used = sim.core_busy_cycles > 0
    print(f"cores busy: {int(used.sum())} of {chip.cores}; busiest {sim.core_busy_cycles.max():.6g} cycles, "
          f"most stalled {sim.core_stall_cycles.max():.6g} cycles")
    if sim.scaled_layers:
        print("layers without spike samples (events synthesised at the trace's rate): " + ", ".join(sim.scaled_layers))
    return 0


def _parse_grid(items: list[str]) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not raw:
            raise ConfigError(None, "--grid", "key=v1,v2,...", got=item)
        grid[key.strip()] = [parse_set_args([f"x={v}"])["x"] for v in raw.split(",")]
    return grid


def _space_columns(path: str, base: ChipConfig, points: int, seed: int) -> dict[str, Any]:
    """The hw.* parameters of a search space as chip columns: its full grid when that has at
    most ``points`` chips, else ``points`` sampled ones (``codesign.search.sample_points``)."""
    from codesign.search import chip_columns, load_space, sample_points

    space = load_space(path)
    if not space.names("hw"):
        raise ConfigError(path, "parameters", "at least one hw.* parameter (a chip search space)",
                          hint="e.g. search_spaces/accelerator.yaml")
    hw_space = space.subspace("hw")
    return chip_columns(sample_points(hw_space, points, seed), base)


def _sweep(args: argparse.Namespace) -> int:
    trace, chip = _load(args, check_bits=False)  # the swept chips' bits are checked below
    table, objectives, task_metric, notes = _sweep_table(args, trace, chip)
    feasible, front, signs = _sweep_front(args, table, objectives, task_metric, notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(front.to_json(orient="records", indent=2))
        return 0
    goals = ", ".join(("maximising " if s < 0 else "minimising ") + o for o, s in zip(objectives, signs, strict=True))
    print(f"{len(front)} Pareto-optimal feasible chips of {len(table)} ({len(feasible)} feasible; {goals}):")
    if task_metric is not None:
        print("the network re-quantised and re-scored at each chip's precision: validation_* on the split the "
              "search selected on, test_* on the held-out test split")
    print(front.to_string(float_format=lambda v: f"{v:.4g}"))
    return 0


def _sweep_table(args: argparse.Namespace, trace: WorkloadTrace, chip: ChipConfig
                 ) -> tuple[pd.DataFrame, list[str], str | None, list[str]]:
    """Every swept chip's figures (and, for a bundle, its precision's task metrics): the table,
    the objectives, the task metric (None for a trace) and notes."""
    import numpy as np

    from codesign.hardware import check_weight_bits, grid_columns, sweep_table

    if bool(args.space) == bool(args.grid):
        raise ConfigError(None, "--space/--grid", "exactly one of --space FILE or --grid key=v1,v2,...")
    if args.space:
        columns = _space_columns(args.space, chip, args.points, args.seed)
    else:
        columns = grid_columns(_parse_grid(args.grid))
    objectives = [o.strip() for o in args.objectives.split(",") if o.strip()]
    if args.bundle:
        table, task_metric, notes = _bundle_sweep(args, chip, columns)
        return table, [task_metric, *objectives], task_metric, notes
    if not args.requantise:
        wide = chip.wide_weight_bits
        check_weight_bits(trace, np.asarray(columns.get("weight_bits", [chip.weight_bits]), dtype=float),
                          file=args.trace, chip_wide_weight_bits=np.asarray(
                              columns.get("wide_weight_bits", [np.nan if wide is None else wide]), dtype=float),
                          chip_tap_scales=np.asarray(columns.get("tap_scales", [chip.tap_scales]), dtype=float))
    return sweep_table(trace, chip, columns, requantise=True), objectives, None, []


def _feasible(args: argparse.Namespace, table: pd.DataFrame, task_metric: str | None,
              notes: list[str]) -> pd.DataFrame:
    """The feasible chips (with a task metric, for a bundle).

    Raises:
        ConfigError: none, with the commonest reasons.
    """
    feasible = table[table["feasible"]]
    if task_metric is not None:
        feasible = feasible[feasible[task_metric].notna()]
    if feasible.empty:
        reasons = sorted(set("; ".join(table["reasons"]).split("; ")) - {""})
        raise ConfigError(None, "--grid" if args.grid else "--space", "at least one feasible chip",
                          hint="; ".join(reasons[:3] + notes[:1]))
    return feasible


def _sweep_front(args: argparse.Namespace, table: pd.DataFrame, objectives: list[str], task_metric: str | None,
                 notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, list[float]]:
    """The feasible chips, the Pareto-optimal ones among them (sorted) and each objective's sign."""
    from codesign.search import pareto_mask

    unknown = [o for o in objectives if o not in table.columns]
    if unknown:
        raise ConfigError(None, "--objectives", "metrics of the sweep: " + ", ".join(table.columns), got=unknown)
    feasible = _feasible(args, table, task_metric, notes)
    signs = [-1.0 if o == "validation_accuracy" else 1.0 for o in objectives]  # accuracy is maximised
    front = feasible[pareto_mask(feasible[objectives].to_numpy(dtype=float) * signs)]
    front = front.drop(columns=["reasons"]).sort_values(
        objectives, ascending=[s > 0 for s in signs]).reset_index(drop=True)
    return feasible, front, signs


def _bundle_sweep(args: argparse.Namespace, chip: ChipConfig, columns: dict[str, Any]) -> tuple[Any, str, list[str]]:
    """The sweep of a bundle's network: the chips grouped by precision (weight_bits,
    state_bits, wide_weight_bits: ``codesign.search.chip_precision``), the network scored once
    per precision (its own keeps the stored scores), each group costed on that precision's
    trace; the task metrics of each chip's precision beside its costs. Returns the table, the
    task metric the front maximises or minimises (``validation_accuracy`` or
    ``validation_wer``) and notes on precisions the network cannot be held in (their chips
    have no task metric and stay off the front)."""
    import pandas as pd

    from codesign.cli._progress import stderr_steps
    from codesign.export import bundle_scores, load_bundle_config

    say = stderr_steps(not args.no_progress)
    groups, notes = _precision_groups(columns, chip)
    if say is not None:
        say(f"{sum(map(len, groups.values()))} chips at {len(groups)} precisions: "
            + ", ".join(f"{p.label} ({len(v)})" for p, v in groups.items()))
    config = load_bundle_config(args.bundle)
    task = "validation_wer" if config.head == "ctc" else "validation_accuracy"
    errors: dict[Precision, str] = {}
    scores = bundle_scores(args.bundle, list(groups), progress=not args.no_progress and not args.json, say=say,
                           errors=errors)
    notes += [_unheld_note(p.label, why, len(groups[p])) for p, why in errors.items()]
    parts = [_precision_table(*scores[key], chip, columns, rows, task) for key, rows in groups.items() if key in scores]
    if not parts:
        raise ConfigError(None, "--space" if args.space else "--grid", "a chip precision the network can be held in",
                          hint="; ".join(notes))
    table = pd.concat(parts).sort_index()
    return table, task, notes


def _unheld_note(label: str, why: str, chips: int) -> str:
    """A note on a precision the network cannot be held in, with why and how many chips it leaves out."""
    return f"{label}: the network cannot be held at this precision ({why}); its {chips} chips are left out"


def _precision_groups(columns: dict[str, Any], chip: ChipConfig) -> tuple[dict[Precision, list[int]], list[str]]:
    """The swept chips' indices by the precision they hold the network in
    (``codesign.search.chip_precision``; ``chip``'s fields where not swept), in order of their bits,
    and a note per group of bits no network can be held in (e.g. 1-bit weights)."""
    import numpy as np

    from codesign.search import chip_label, chip_precision

    n = len(next(iter(columns.values()))) if columns else 1
    names = ("weight_bits", "state_bits", "wide_weight_bits", "tap_scales")
    values = {name: np.asarray(columns[name], dtype=float) for name in names if name in columns}
    groups: dict[Precision, list[int]] = {}
    unheld: dict[str, tuple[str, list[int]]] = {}
    for i in range(n):
        fields: dict[str, int | bool | None] = {
            name: None if np.isnan(v[i]) else bool(v[i]) if name == "tap_scales" else int(v[i])
            for name, v in values.items()}
        held = chip.model_copy(update=fields)
        try:
            groups.setdefault(chip_precision(held), []).append(i)
        except ConfigError as err:
            unheld.setdefault(chip_label(held), (err.expected, []))[1].append(i)
    notes = [_unheld_note(label, why, len(rows)) for label, (why, rows) in sorted(unheld.items())]
    return dict(sorted(groups.items(), key=lambda item: item[0].order)), notes


def _precision_table(metrics: dict[str, float], trace: WorkloadTrace, chip: ChipConfig, columns: dict[str, Any],
                     rows: list[int], task: str) -> pd.DataFrame:
    """The chips ``rows`` of one precision costed on that precision's trace, its task metrics in front."""
    import numpy as np

    from codesign.hardware import sweep_table

    part = sweep_table(trace, chip, {k: np.asarray(v)[rows] for k, v in columns.items()})
    for name in (task.replace("validation_", "test_"), task):  # validation first, then test
        part.insert(0, name, float(metrics.get(name, float("nan"))))
    part.index = rows
    return part


def _cut_chips(chip: ChipConfig, cores: list[int] | None) -> list[ChipConfig]:
    """The chip, and the chip cut to each other core count of ``--cores`` (a square-ish mesh)."""
    from codesign.config import parse_spec
    from codesign.hardware import ChipConfig

    chips = [chip]
    for n in cores or []:
        if n == chip.cores:
            continue
        try:
            chips.append(parse_spec(ChipConfig, {**chip.model_dump(), "cores": n, "mesh_cols": None}))
        except ConfigError as err:
            raise ConfigError(None, "--cores", err.expected, got=n) from None
    return chips


def _crosscheck(args: argparse.Namespace) -> int:
    from codesign.hardware import load_chip
    from codesign.trace import load_trace

    chip = load_chip(args.chip, parse_set_args(args.overrides))
    trace = load_trace(args.trace)
    if args.max_steps is not None and args.max_steps < 1:
        raise ConfigError(None, "--max-steps", "a positive number of sample rows", got=args.max_steps)
    # The only place the GPL-3.0 extra is reached; the module imports sanafe when it runs.
    from codesign.hardware.sanafe_crosscheck import SanafeMissing, crosscheck

    chips = _cut_chips(chip, args.cores)
    try:
        reports = [crosscheck(trace, one, seed=args.seed, max_steps=args.max_steps) for one in chips]
    except SanafeMissing as err:
        print(f"codesign: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        raise ConfigError(args.trace, "", "a trace SANA-FE's Loihi can replay on this chip", hint=str(err)) from None
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        print("\n\n".join(r.table() for r in reports))
    return 0


def _presets(args: argparse.Namespace) -> int:
    from codesign.hardware import list_presets, load_chip

    for name in list_presets():
        chip = load_chip(name)
        print(f"{name:<16}{chip.description}")
    return 0


def _synthetic(args: argparse.Namespace) -> int:
    from codesign.hardware import synthetic_trace
    from codesign.trace import save_trace

    trace = synthetic_trace(args.layers, seed=args.seed, steps=args.steps, levels=args.levels, rates=args.rate)
    print(save_trace(trace, args.out))
    return 0
