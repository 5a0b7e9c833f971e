"""What a chip's precision does to the network it scores: PTQ and QAT per weight width, and state bits.

For each model (the Spikeformer and the improved-recurrence SRNN, on ``digits``) and seed:
one float training, scored after post-training quantisation at every weight width (state
float) and at every state width (weights float); one quantisation-aware training per weight
width below 32 (``precision: qat``: the float run, then a fine-tune of a third of its epochs on
the grid, at 2 bits distilling the float network, each from the float run's checkpoint), scored at
its width; and the control of QAT's extra epochs, the same fine-tune in
float (``finetuned_float``). The task metric (WER on ``digits``) is the mean over seeds, on the
test split. Writes ``benchmarks/results/precision.json``: ``figures`` is the Spikeformer's
(``ptq``, ``qat``: weight bits -> metric; ``finetuned_float``; ``state_bits``: state bits ->
metric; ``metric``), ``figures_by_model`` has each model run (``--models``; ``--name`` writes another file).

The chip of each weight width is the chip model's: at 2 bits a mixed-precision chip
(``ChipConfig.wide_weight_bits``, ``WIDE_WEIGHT_BITS``) that holds the conv-fused RepSSA
projections in 4 bits and every other weight on the ternary grid, as 2-bit accelerators hold
their sensitive layers wider; ``ptq_uniform``/``qat_uniform`` are the same widths with every
weight at that width (a pure ternary chip). ``chip_cost`` prices the QAT networks of the first
seed on one chip at each of those precisions (the chip model: energy per inference, weights
stored, area), so what the wider projections cost stands beside what they buy. ``ptq_tap`` and
``qat_tap`` (``TAP_BITS``: 2 and 4 bits) are a chip with a scale per (output channel, kernel
tap) in the fused projections (``ChipConfig.tap_scales``) and every weight at the width (at 2
bits pure ternary), against the wide-projection chip; ``chip_cost`` prices them too
(``2-tap``, ``4-tap``).

    PYTHONPATH=$PWD python benchmarks/precision.py [--seeds 0 1 2] [--epochs 16] [--size 1000] [--models ...] [--name precision] [--qat-bits 2 4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from spikeformer_common import write_result

from codesign.data import CorpusConfig, load_corpus
from codesign.hardware import estimate_cost, load_chip
from codesign.search import chip_precision
from codesign.snn import ModelConfig, Precision, SpikeformerConfig, SRNNConfig
from codesign.trace import trace_split
from codesign.train import (
    QAT_DISTIL_TEMPERATURE,
    QAT_DISTIL_WEIGHT,
    QAT_FEATURE_DISTIL_WEIGHT,
    QAT_FINETUNE_FRACTION,
    QAT_FINETUNE_LR_FRACTION,
    QAT_SCHEME,
    QAT_TERNARY_LR_FRACTION,
    TrainConfig,
    finetune,
    score_at_precision,
    train,
)

WEIGHT_BITS = (2, 3, 4, 6, 8, 32)
STATE_BITS = (8, 12, 16)
#: Weight width -> the chip's ``wide_weight_bits`` there (the fused projections' word); the
#: widths not named hold every weight at their width.
WIDE_WEIGHT_BITS = {2: 4}
#: Weight widths also measured on a chip with tap scales (``ChipConfig.tap_scales``; no wide layers).
TAP_BITS = (2, 4)
#: The chip ``chip_cost`` prices the networks on (the quickstart's), at each width's precision.
COST_CHIP = "edge_kws"


def precision_at(bits: int, uniform: bool = False, tap: bool = False) -> Precision:
    """The precision of the benchmark's chip of ``bits``-bit weights (state float): the chip's
    own mapping (``codesign.search.chip_precision``), with its wide layers unless ``uniform`` or
    ``tap`` (every weight at ``bits``, the fused projections with a scale per kernel tap)."""
    return chip_precision(load_chip(COST_CHIP, {
        "weight_bits": bits, "state_bits": 32, "tap_scales": tap,
        "wide_weight_bits": None if uniform or tap else WIDE_WEIGHT_BITS.get(bits)}))


def qat_budget(budget: TrainConfig, precision: Precision) -> TrainConfig:
    """The QAT budget of ``precision`` (its wide layers' bits too)."""
    return budget.model_copy(update={"qat_weight_bits": precision.weight_bits,
                                     "qat_wide_weight_bits": precision.wide_weight_bits,
                                     "qat_tap_scales": precision.tap_scales})


def chip_cost(cfg: ModelConfig, corpus, net, precision: Precision) -> dict[str, float]:
    """The chip model's figures of ``net`` (a network trained for ``precision``) on
    ``COST_CHIP`` at that precision, from its trace on the validation split's evaluation batch."""
    from codesign.train import score_at_precision as score

    _, on_chip = score(net, corpus, "ctc" if corpus.kind == "ctc" else "classify", precision, splits=("validation",))
    trace = trace_split(on_chip, corpus.validation, cfg)
    chip = load_chip(COST_CHIP, {"weight_bits": precision.weight_bits, "state_bits": 16,
                                 "wide_weight_bits": precision.wide_weight_bits, "tap_scales": precision.tap_scales})
    report = estimate_cost(trace, chip)
    return {"energy_uj": report.energy_uj, "weight_kb": report.weight_kb, "area_mm2": report.area_mm2,
            "latency_ms": report.latency_ms, "feasible": report.feasible}

MODELS = {
    # the configuration that meets the spiking-vs-ANN targets (docs/benchmarks.md), one block
    "spikeformer": SpikeformerConfig(family="spikeformer", width=64, depth=1, heads=4, subsample=4, levels=4,
                               attn_scale="mask_rows", front_kernel=1),
    # the srnn_vs_rnn benchmark's SNN
    "srnn": SRNNConfig(family="srnn", width=64, depth=2, subsample=4, quant_bits=4, quant_zero_threshold=2,
                        quant_input_coding="delta", quant_input_zero_threshold=4, activity_target=0.01,
                        activity_weight=20.0),
}


def measure(name: str, cfg: ModelConfig, corpus, seeds: list[int], epochs: int, lr: float,
            qat_bits: tuple[int, ...] = WEIGHT_BITS[:-1]) -> dict:
    metric = "accuracy" if corpus.kind == "classification" else "wer"
    key = f"test_{metric}"
    ptq: dict[str, list[float]] = {str(b): [] for b in WEIGHT_BITS}
    qat: dict[str, list[float]] = {str(b): [] for b in (*qat_bits, 32)}
    mixed = [b for b in WEIGHT_BITS if b in WIDE_WEIGHT_BITS]
    ptq_uniform: dict[str, list[float]] = {str(b): [] for b in mixed}
    qat_uniform: dict[str, list[float]] = {str(b): [] for b in mixed if b in qat_bits}
    ptq_tap: dict[str, list[float]] = {str(b): [] for b in TAP_BITS}
    qat_tap: dict[str, list[float]] = {str(b): [] for b in TAP_BITS if b in qat_bits}
    costs: dict[str, dict[str, float]] = {}
    state: dict[str, list[float]] = {str(b): [] for b in STATE_BITS}
    overflow: dict[str, list[float]] = {str(b): [] for b in STATE_BITS}
    finetuned: list[float] = []
    for seed in seeds:
        budget = TrainConfig(epochs=epochs, batch_size=32, learning_rate=lr, threads=1)
        start = time.perf_counter()
        result = train(cfg, corpus, budget, seed=seed)
        print(f"{name} seed {seed}: float {key} {result.metrics[key]:.4f} ({time.perf_counter() - start:.0f} s)",
              file=sys.stderr, flush=True)
        for bits in WEIGHT_BITS:
            scored, _ = score_at_precision(result.model, corpus, result.head, precision_at(bits))
            ptq[str(bits)].append(scored[key])
            if str(bits) in ptq_uniform:
                scored, _ = score_at_precision(result.model, corpus, result.head, precision_at(bits, uniform=True))
                ptq_uniform[str(bits)].append(scored[key])
            if str(bits) in ptq_tap:
                scored, _ = score_at_precision(result.model, corpus, result.head, precision_at(bits, tap=True))
                ptq_tap[str(bits)].append(scored[key])
        for bits in STATE_BITS:
            scored, _ = score_at_precision(result.model, corpus, result.head, Precision(state_bits=bits))
            state[str(bits)].append(scored[key])
            overflow[str(bits)].append(scored["state_overflow_rate"])
        qat["32"].append(result.metrics[key])
        # every fine-tune starts from the float run's checkpoint (codesign.train.finetune: the
        # same network and metrics as training it straight through, without rerunning the float run)
        assert result.checkpoint is not None
        control = finetune(cfg, corpus, budget.model_copy(update={"qat_weight_bits": 32}), seed, result.checkpoint)
        finetuned.append(control.metrics[key])
        print(f"{name} seed {seed}: float fine-tuned {key} {finetuned[-1]:.4f}", file=sys.stderr, flush=True)
        for bits in qat_bits:
            for precision, table in ((precision_at(bits), qat), (precision_at(bits, uniform=True), qat_uniform),
                                     (precision_at(bits, tap=True), qat_tap)):
                if table is not qat and str(bits) not in table:
                    continue
                trained = finetune(cfg, corpus, qat_budget(budget, precision), seed, result.checkpoint)
                scored, _ = score_at_precision(trained.model, corpus, trained.head, precision)
                table[str(bits)].append(scored[key])
                if seed == seeds[0]:
                    wide = "" if precision.wide_weight_bits is None else f"x{precision.wide_weight_bits}"
                    tap = "-tap" if precision.tap_scales else ""
                    costs[f"{bits}{wide}{tap}"] = chip_cost(cfg, corpus, trained.model, precision)
                print(f"{name} seed {seed}: qat {precision.label} {key} {scored[key]:.4f}; ptq {ptq[str(bits)][-1]:.4f}",
                      file=sys.stderr, flush=True)

    def mean(table: dict[str, list[float]]) -> dict[str, float]:
        return {k: statistics.fmean(v) for k, v in table.items()}

    return {
        "metric": metric,
        "ptq": mean(ptq),
        "qat": mean(qat),
        "wide_weight_bits": {str(b): WIDE_WEIGHT_BITS[b] for b in mixed},
        "ptq_uniform": mean(ptq_uniform),
        "qat_uniform": mean(qat_uniform),
        "ptq_tap": mean(ptq_tap),
        "qat_tap": mean(qat_tap),
        "chip_cost": costs,
        "state_bits": mean(state),
        "state_overflow_rate": mean(overflow),
        "finetuned_float": statistics.fmean(finetuned),
        "per_seed": {"ptq": ptq, "qat": qat, "state_bits": state, "finetuned_float": finetuned,
                     "ptq_uniform": ptq_uniform, "qat_uniform": qat_uniform, "ptq_tap": ptq_tap,
                     "qat_tap": qat_tap},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--learning-rate", type=float, default=1e-2)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--name", default="precision", help="result file name (benchmarks/results/<name>.json)")
    parser.add_argument("--qat-bits", type=int, nargs="+", default=list(WEIGHT_BITS[:-1]),
                        choices=list(WEIGHT_BITS[:-1]), help="the weight widths QAT trains (a quicker partial run)")
    args = parser.parse_args()
    corpus = load_corpus(CorpusConfig(task="digits", size=args.size, max_digits=4, seed=0), progress=False)
    by_model = {m: measure(m, MODELS[m], corpus, args.seeds, args.epochs, args.learning_rate, tuple(args.qat_bits))
                for m in args.models}
    primary = by_model.get("spikeformer") or next(iter(by_model.values()))
    figures = {k: primary[k] for k in ("metric", "ptq", "qat", "finetuned_float", "state_bits", "wide_weight_bits",
                                       "ptq_uniform", "qat_uniform", "ptq_tap", "qat_tap", "chip_cost")}
    details = {
        "corpus": {"task": "digits", "size": args.size, "max_digits": 4, "seed": 0},
        "epochs": args.epochs,
        "seeds": args.seeds,
        "models": {m: MODELS[m].to_dict() for m in args.models},
        "convention": "weights symmetric per output channel, levels -(2^(b-1)-1)..2^(b-1)-1; state signed "
        "fixed point, range calibrated on 64 training utterances; 32 bits = float; QAT (precision: qat) is the float "
        "run, then a fine-tune of qat_finetune_fraction of its epochs at qat_finetune_lr_fraction of its learning "
        "rate on the grid, in the fused form the chip runs; at 2 bits (ternary) at qat_ternary_lr_fraction of it, "
        "distilling the float run's network (output KL at qat_distil_temperature, weight qat_distil_weight, plus "
        "the fused projections' outputs, weight qat_feature_distil_weight), each channel's scale the fraction of "
        "its peak with the least squared error; finetuned_float is that fine-tune with the weights left in float "
        "(what the extra epochs give without the grid)",
        "wide_weight_bits": "a weight width named in figures.wide_weight_bits is a mixed-precision chip "
        "(ChipConfig.wide_weight_bits): the conv-fused RepSSA projections (codesign.snn.wide_weight_modules) held, "
        "trained (QAT) and priced at that many bits, every other synaptic weight at the width; ptq_uniform and "
        "qat_uniform hold every weight at the width. chip_cost: the QAT networks of the first seed "
        f"traced on the validation split and priced on {COST_CHIP} (state_bits 16) at their precision",
        "tap_scales": "ptq_tap and qat_tap: a chip with ChipConfig.tap_scales (the conv-fused RepSSA projections "
        "with a weight scale per (output channel, kernel tap), every synaptic weight at the width: pure ternary at "
        "2 bits), quantised, trained (QAT) and priced so; chip_cost keys '<bits>-tap'",
        "qat_scheme": QAT_SCHEME,
        "qat_finetune_fraction": QAT_FINETUNE_FRACTION,
        "qat_finetune_lr_fraction": QAT_FINETUNE_LR_FRACTION,
        "qat_ternary_lr_fraction": QAT_TERNARY_LR_FRACTION,
        "qat_distil_weight": QAT_DISTIL_WEIGHT,
        "qat_distil_temperature": QAT_DISTIL_TEMPERATURE,
        "qat_feature_distil_weight": QAT_FEATURE_DISTIL_WEIGHT,
        "training_cost": "float (ptq): the float run's epochs; qat and finetuned_float: those epochs plus "
        "ceil(epochs * qat_finetune_fraction) fine-tune epochs (at 2 bits each step also a forward pass of the "
        "teacher)",
    }
    path = write_result(args.name, {**figures, "figures_by_model": by_model}, details)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
