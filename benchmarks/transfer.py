"""Benchmark: does accuracy hold on a synthesiser never heard in training? (issue #25)

Trains the quickstart's network family (Spikeformer, ``studies/quickstart.yaml``'s base
model and its 12-epoch budget, float weights) and a plain reference (the 3-layer conv net of
``corpus_learnability.py`` for ``commands``, its conv + bi-GRU CTC net for ``digits``) on
the training engines of the default corpus (eSpeak NG + flite), then scores them on the
validation split (unseen speakers of those engines) and on the test split (festival, never
heard in training). The ``commands`` corpus is the quickstart's (2,000 utterances, 40
speakers, ``easy``, per-utterance CMVN of the features) and the same at ``--large-size``
(8,000) utterances; ``digits`` uses ``--digits-size`` utterances at the default difficulty,
featurised as the quickstart's corpus is.

Writes benchmarks/results/transfer.json with, per model (``snn``, ``cnn`` at the
quickstart size; ``snn_<N>``, ``cnn_<N>`` at the large size):
``figures.<model>.validation_accuracy``, ``.heldout_engine_accuracy``,
``.heldout_engine_unknown_recall`` (share of the test split's ``unknown`` words answered
``unknown``), for ``cnn*`` also ``.over_seeds`` (the same figures over ``--seed`` and
``--reference-seeds``, with their means), and for ``snn`` and ``cnn`` also ``.digits_validation_wer`` and
``.digits_heldout_engine_wer``; ``measured_on`` names the engines and voices of each split.

    PYTHONPATH=$PWD python benchmarks/transfer.py
    PYTHONPATH=$PWD python benchmarks/transfer.py --size 300 --large-size 0 --digits-size 200 \
        --epochs 1 --out /tmp/transfer.json                       # a quick check of the script
    PYTHONPATH=$PWD python benchmarks/transfer.py --large-size 0 --digits-size 0 \
        --difficulty '{"preset": "easy", "telephone_probability": 0.3}' --out /tmp/telephone.json
                                                  # one channel effect's effect on the held-out engine
    PYTHONPATH=$PWD python benchmarks/transfer.py --ablation --seeds 0 1 2
    PYTHONPATH=$PWD python benchmarks/transfer.py --large-size 0 --digits-size 0 \
        --corpus '{"n_speakers": 40}' --out benchmarks/results/transfer_40_speakers.json
                                                  # a control: the quickstart corpus as it was

``--ablation`` measures each channel effect (or, with ``--variants``, a feature or
augmentation option: ``cmn``, ``cmvn``, ``vtlp``) by its effect on the held-out engine instead:
the reference CNN (and the SNN with ``--ablation-models cnn snn``) is trained on the
quickstart's corpus and on that corpus with one effect added at the ``default`` preset's
setting (telephone, reverberation, spectral tilt; then all three), once per ``--seeds``
training seed, and benchmarks/results/transfer_ablation.json records per variant and model
the mean and per-seed validation and held-out-engine accuracy and the change from the
quickstart's corpus.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from corpus_learnability import DigitNet, KeywordNet

from codesign.data import Corpus, CorpusConfig, CorpusSplit, Difficulty, load_corpus
from codesign.snn import parse_model_config
from codesign.train import TrainConfig, ctc_greedy_decode, train, word_error_rate

RESULT = Path(__file__).parent / "results" / "transfer.json"
ABLATION_RESULT = Path(__file__).parent / "results" / "transfer_ablation.json"
#: Each channel effect of the ablation at the ``default`` preset's setting, added alone to the
#: quickstart's corpus (whose ``easy`` preset has none of them), then all together.
_DEFAULT = Difficulty()
ABLATIONS: dict[str, dict[str, Any]] = {
    "telephone": {"telephone_probability": _DEFAULT.telephone_probability},
    "reverb": {
        "reverb_probability": _DEFAULT.reverb_probability,
        "rt60_s": list(_DEFAULT.rt60_s),
        "direct_to_reverb_db": list(_DEFAULT.direct_to_reverb_db),
    },
    "tilt": {"tilt_db_per_octave": list(_DEFAULT.tilt_db_per_octave)},
}
ABLATIONS["all_three"] = {k: v for effect in list(ABLATIONS.values()) for k, v in effect.items()}
#: Options over the quickstart's whole corpus config (features, augmentation) measured the same
#: way with ``--variants``: per-utterance normalisation of the log-mel features (CMN, CMVN) and
#: vocal-tract-length perturbation of the training split (factor 0.9-1.1).
#: Names join with ``+`` (``cmvn+vtlp``) to measure options together.
CORPUS_ABLATIONS: dict[str, dict[str, Any]] = {
    "cmn": {"features": {"utterance_normalisation": "mean"}},
    "cmvn": {"features": {"utterance_normalisation": "mean_var"}},
    "vtlp": {"difficulty": {"vtlp_warp": [0.9, 1.1]}},
}
QUICKSTART = Path(__file__).parent.parent / "studies" / "quickstart.yaml"
UNKNOWN = "unknown"


def _rows(split: CorpusSplit, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = split.feature_lengths[idx]
    return split.features[idx, : int(lengths.max())], lengths


def _chunks(n: int, size: int, gen: torch.Generator | None = None) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
    return list(order.split(size))


def _classify(model: nn.Module, split: CorpusSplit) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        outs = []
        for idx in _chunks(len(split), 256):
            out = model(*_rows(split, idx))
            outs.append(out[0] if isinstance(out, tuple) else out)
    return torch.cat(outs).argmax(-1)


def _wer(model: nn.Module, corpus: Corpus, split: CorpusSplit) -> float:
    model.eval()
    hyps: list[list[str]] = []
    refs: list[list[str]] = []
    with torch.no_grad():
        for idx in _chunks(len(split), 256):
            log_probs, out_lengths = model(*_rows(split, idx))
            hyps += [corpus.to_words(h) for h in ctc_greedy_decode(log_probs, out_lengths)]
            refs += [
                corpus.to_words(split.targets[i, : split.target_lengths[i]].tolist()) for i in idx.tolist()
            ]
    return word_error_rate(refs, hyps)


def _by_voice(predicted: torch.Tensor, split: CorpusSplit) -> dict[str, float]:
    """Accuracy per ``engine:voice`` of the split's speakers."""
    voices = [s.split("/", 1)[0] for s in split.speakers]
    return {
        v: float((predicted == split.targets)[torch.tensor([x == v for x in voices])].float().mean())
        for v in sorted(set(voices))
    }


def _classification_scores(model: nn.Module, corpus: Corpus) -> dict[str, Any]:
    unknown = corpus.vocabulary.index(UNKNOWN)
    val = _classify(model, corpus.validation)
    test = _classify(model, corpus.test)
    is_unknown = corpus.test.targets == unknown
    by_engine = {
        e: float(
            (val == corpus.validation.targets)[torch.tensor([x == e for x in corpus.validation.engines])]
            .float()
            .mean()
        )
        for e in sorted(set(corpus.validation.engines))
    }
    scores = {
        "validation_accuracy_by_engine": by_engine,
        "validation_accuracy_by_voice": _by_voice(val, corpus.validation),
        "heldout_engine_accuracy_by_voice": _by_voice(test, corpus.test),
        "validation_accuracy": float((val == corpus.validation.targets).float().mean()),
        "heldout_engine_accuracy": float((test == corpus.test.targets).float().mean()),
        # None (JSON null) when the test split has no unknown word to recall
        "heldout_engine_unknown_recall": float((test[is_unknown] == unknown).float().mean())
        if bool(is_unknown.any())
        else None,
        "heldout_engine_unknown_utterances": int(is_unknown.sum()),
        "heldout_engine_answers_unknown_share": float((test == unknown).float().mean()),
    }
    if corpus.heldout_engines:
        return scores
    # no engine held out (a control): the test split is unseen speakers of the training
    # engines, named test_* as study records name it
    return {k.replace("heldout_engine_", "test_"): v for k, v in scores.items()}


def _train_reference(corpus: Corpus, epochs: int, seed: int) -> nn.Module:
    """The plain reference: KeywordNet (commands) or DigitNet (digits), AdamW, ``epochs`` epochs."""
    torch.manual_seed(seed)
    ctc = corpus.kind == "ctc"
    model: nn.Module = (DigitNet if ctc else KeywordNet)(corpus.n_features, corpus.n_classes)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
    loss_ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for idx in _chunks(len(corpus.train), 32 if ctc else 64, gen):
            x, lengths = _rows(corpus.train, idx)
            if ctc:
                log_probs, out_lengths = model(x, lengths)
                loss = loss_ctc(
                    log_probs.transpose(0, 1),
                    corpus.train.targets[idx],
                    out_lengths,
                    corpus.train.target_lengths[idx],
                )
            else:
                loss = nn.functional.cross_entropy(model(x, lengths), corpus.train.targets[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    return model


def _train_snn(corpus: Corpus, study: dict[str, Any], epochs: int, seed: int) -> nn.Module:
    model_cfg = parse_model_config(study["model"])
    budget = TrainConfig.model_validate({**study["fidelity"], "epochs": epochs, "seconds": None})
    return train(model_cfg, corpus, budget, seed).model


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _over_seeds(
    corpus: Corpus, epochs: int, seed: int, first: dict[str, Any], more: list[int]
) -> dict[str, Any]:
    """The reference's commands figures over ``seed`` (scored: ``first``) and ``more`` training
    seeds (the held-out figure of one seed moves by several points from seed to seed)."""
    others = [s for s in more if s != seed]
    seeds = [seed, *others]
    runs = [first] + [_classification_scores(_train_reference(corpus, epochs, s), corpus) for s in others]
    keys = ("validation_accuracy", "heldout_engine_accuracy")
    result: dict[str, Any] = {"seeds": seeds}
    for key in keys:
        values = [r[key] for r in runs if key in r]
        if values:
            result[key] = values
            result[f"{key}_mean"] = _mean(values)
    return result


def _write_result(path: Path, name: str, complete: bool, started: float, body: dict[str, Any]) -> None:
    """Write one result file: the benchmark's name, the command that made it, whether it is
    complete, ``body`` in its order, then the seconds since ``started`` and the load."""
    result = {
        "benchmark": name,
        "command": "PYTHONPATH=$PWD python " + shlex.join(["benchmarks/transfer.py", *sys.argv[1:]]),
        "complete": complete,
        **body,
        "seconds": round(time.perf_counter() - started, 1),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def _overrides(variant: str) -> dict[str, Any]:
    """What a ``--variants`` name changes in the quickstart's corpus: ``{"difficulty": ...}``
    for a channel effect, the option's mapping for a corpus option, merged for ``a+b``."""
    merged: dict[str, dict[str, Any]] = {}
    for name in variant.split("+"):
        if name in ABLATIONS:
            part = {"difficulty": ABLATIONS[name]}
        elif name in CORPUS_ABLATIONS:
            part = CORPUS_ABLATIONS[name]
        else:
            known = ", ".join([*ABLATIONS, *CORPUS_ABLATIONS])
            raise SystemExit(f"--variants: unknown variant {name!r} (known: {known}; join with +)")
        for section, values in part.items():
            merged.setdefault(section, {}).update(values)
    return merged


def _variant(quick_corpus: dict[str, Any], variant: str) -> dict[str, Any]:
    """The quickstart's corpus config with ``variant``'s overrides merged into its sections."""
    config = dict(quick_corpus)
    config["difficulty"] = Difficulty.model_validate(quick_corpus["difficulty"]).to_dict()
    for section, values in _overrides(variant).items():
        current = config.get(section) or {}
        config[section] = {**(current if isinstance(current, dict) else {}), **values}
    return config


def _ablation(args: argparse.Namespace, study: dict[str, Any], quick_corpus: dict[str, Any]) -> None:
    """Each channel effect's effect on the held-out engine (issue #25 item 2): same models,
    same training, the quickstart's corpus with one effect added, mean over training seeds."""
    variants = {"quickstart": quick_corpus}
    variants.update({name: _variant(quick_corpus, name) for name in args.variants})
    snn_epochs = args.epochs if args.epochs is not None else int(study["fidelity"]["epochs"])
    ref_epochs = args.reference_epochs if args.epochs is None else args.epochs
    figures: dict[str, dict[str, Any]] = {}
    corpora: dict[str, Any] = {}
    started = time.perf_counter()

    def write(complete: bool) -> None:
        out = args.out if args.out != RESULT else ABLATION_RESULT
        _write_result(out, "transfer_ablation", complete, started, {
            "what": "each variant (a channel effect at the default preset's setting, or a feature or "
            "augmentation option; `a+b`: both) added to the quickstart's corpus; held-out engine = "
            "festival, never heard in training; delta = mean over seeds minus the quickstart corpus's mean",
            "variants": {name: _overrides(name) for name in args.variants},
            "models": {
                "snn": f"{study['model']} trained {snn_epochs} epochs with the quickstart's fidelity (float weights)",
                "cnn": f"corpus_learnability.py's KeywordNet, {ref_epochs} epochs",
            },
            "seeds": args.seeds,
            "figures": figures,
            "corpora": corpora,
        })

    for variant, corpus_config in variants.items():
        cfg = CorpusConfig.model_validate(corpus_config)
        corpus = load_corpus(cfg, cache_dir=args.cache_dir, progress=False)
        corpora[variant] = {
            "cache_key": cfg.cache_key(),
            "difficulty": cfg.difficulty.to_dict(),
            "features": cfg.features.to_dict(),
            "measured_on": {s: corpus.measured_on(s) for s in ("validation", "test")},
        }
        for model_name in args.ablation_models:
            runs = []
            for seed in args.seeds:
                model = (
                    _train_snn(corpus, study, snn_epochs, seed)
                    if model_name == "snn"
                    else _train_reference(corpus, ref_epochs, seed)
                )
                runs.append(_classification_scores(model, corpus))
            row: dict[str, Any] = {
                key: _mean([r[key] for r in runs])
                for key in (
                    "validation_accuracy",
                    "heldout_engine_accuracy",
                    "heldout_engine_answers_unknown_share",
                )
            }
            row["per_seed"] = {
                key: [r[key] for r in runs] for key in ("validation_accuracy", "heldout_engine_accuracy")
            }
            reference = figures.get("quickstart", {}).get(model_name)
            if reference is not None:
                row["delta_validation_accuracy"] = (
                    row["validation_accuracy"] - reference["validation_accuracy"]
                )
                row["delta_heldout_engine_accuracy"] = (
                    row["heldout_engine_accuracy"] - reference["heldout_engine_accuracy"]
                )
            figures.setdefault(variant, {})[model_name] = row
            print(variant, model_name, json.dumps(row), flush=True)
            write(complete=False)
    write(complete=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=None, help="commands corpus (default: the quickstart's)")
    parser.add_argument("--large-size", type=int, default=8000, help="the larger commands corpus (0: skip)")
    parser.add_argument("--digits-size", type=int, default=4000, help="digits corpus (0: skip)")
    parser.add_argument("--epochs", type=int, default=None, help="SNN epochs (default: the quickstart's)")
    parser.add_argument("--reference-epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument(
        "--difficulty",
        default=None,
        help="commands difficulty preset or JSON mapping over one (default: the quickstart's), "
        "to measure a channel effect on the held-out engine",
    )
    parser.add_argument(
        "--corpus",
        default=None,
        help="JSON mapping over the quickstart's commands corpus (e.g. n_speakers, engines), for controls",
    )
    parser.add_argument(
        "--ablation",
        action="store_true",
        help="measure each channel effect's effect on the held-out engine (writes transfer_ablation.json)",
    )
    parser.add_argument("--ablation-models", nargs="+", choices=("cnn", "snn"), default=["cnn"])
    parser.add_argument(
        "--variants",
        nargs="+",
        default=list(ABLATIONS),
        help=f"--ablation's variants of the quickstart corpus, each measured beside it: channel effects "
        f"({', '.join(ABLATIONS)}) or corpus options ({', '.join(CORPUS_ABLATIONS)}); join with + "
        "(default: the channel effects)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="--ablation's training seeds")
    parser.add_argument(
        "--reference-seeds",
        type=int,
        nargs="*",
        default=[1, 2],
        help="further training seeds of the commands reference, recorded under cnn*.over_seeds (none: skip)",
    )
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    torch.set_num_threads(1)

    study = yaml.safe_load(QUICKSTART.read_text())
    quick_corpus = dict(study["corpus"])
    if args.corpus is not None:
        quick_corpus.update(json.loads(args.corpus))
    if args.difficulty is not None:
        quick_corpus["difficulty"] = (
            json.loads(args.difficulty) if args.difficulty.lstrip().startswith("{") else args.difficulty
        )
    if args.ablation:
        _ablation(args, study, quick_corpus)
        return
    size = args.size if args.size is not None else int(quick_corpus["size"])
    speakers_per_utt = int(quick_corpus.get("n_speakers", 40)) / int(quick_corpus["size"])
    snn_epochs = args.epochs if args.epochs is not None else int(study["fidelity"]["epochs"])
    ref_epochs = args.reference_epochs if args.epochs is None else args.epochs

    figures: dict[str, dict[str, Any]] = {}
    corpora: dict[str, Any] = {}
    started = time.perf_counter()

    def write(complete: bool) -> None:
        """Write what is measured so far, so a run stopped early keeps its finished models."""
        _write_result(args.out, "transfer", complete, started, {
            "models": {
                "snn": f"{study['model']} trained {snn_epochs} epochs with the quickstart's fidelity (float weights)",
                "cnn": f"corpus_learnability.py's KeywordNet (commands) / DigitNet conv + bi-GRU (digits), "
                f"{ref_epochs} epochs",
            },
            "figures": figures,
            "corpora": corpora,
            "goal": {
                "cnn.heldout_engine_accuracy": ">= 0.80",
                "snn.heldout_engine_accuracy": ">= 0.75",
                "cnn.digits_heldout_engine_wer": "<= 0.12",
            },
        })

    def commands(n: int, suffix: str) -> None:
        cfg = CorpusConfig.model_validate(
            {**quick_corpus, "size": n, "n_speakers": max(10, round(n * speakers_per_utt))}
        )
        corpus = load_corpus(cfg, cache_dir=args.cache_dir, progress=False)
        corpora[f"commands{suffix}"] = {
            "cache_key": cfg.cache_key(),
            "difficulty": cfg.difficulty.to_dict(),
            "features": cfg.features.to_dict(),
            "sizes": corpus.manifest["sizes"],
            "measured_on": {s: corpus.measured_on(s) for s in ("validation", "test")},
        }
        for name in (f"snn{suffix}", f"cnn{suffix}"):
            model = (
                _train_snn(corpus, study, snn_epochs, args.seed)
                if name.startswith("snn")
                else _train_reference(corpus, ref_epochs, args.seed)
            )
            figures[name] = _classification_scores(model, corpus)
            if name.startswith("cnn") and args.reference_seeds:
                figures[name]["over_seeds"] = _over_seeds(
                    corpus, ref_epochs, args.seed, dict(figures[name]), args.reference_seeds
                )
            print(name, json.dumps(figures[name]), flush=True)
            write(complete=False)

    # the quickstart size, then digits, then the large size: the costliest last, so a run
    # stopped early keeps the figures of the goal
    commands(size, "")
    if args.digits_size:
        # the default digits corpus, featurised as the quickstart's corpus is
        cfg = CorpusConfig.model_validate(
            {"task": "digits", "size": args.digits_size, "seed": args.seed, "features": quick_corpus.get("features", {})}
        )
        corpus = load_corpus(cfg, cache_dir=args.cache_dir, progress=False)
        corpora["digits"] = {
            "cache_key": cfg.cache_key(),
            "features": cfg.features.to_dict(),
            "sizes": corpus.manifest["sizes"],
            "measured_on": {s: corpus.measured_on(s) for s in ("validation", "test")},
        }
        for name in ("snn", "cnn"):
            model = (
                _train_snn(corpus, study, snn_epochs, args.seed)
                if name == "snn"
                else _train_reference(corpus, ref_epochs, args.seed)
            )
            figures.setdefault(name, {})["digits_validation_wer"] = _wer(model, corpus, corpus.validation)
            figures[name]["digits_heldout_engine_wer"] = _wer(model, corpus, corpus.test)
            print(name, "digits", json.dumps(figures[name]), flush=True)
            write(complete=False)
    if args.large_size:
        commands(args.large_size, f"_{args.large_size}")
    write(complete=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
