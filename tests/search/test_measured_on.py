"""Scores that say what they measured: held-out-engine metrics a study can select on, and the
engines and voices every record, ``study front`` and ``study points`` name (issue 25)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from _stored import write_stored_study
from _tiny import tiny_spec_data

from codesign.cli import main
from codesign.config import ConfigError, parse_spec
from codesign.search import (
    METRICS,
    ArtifactStore,
    StudySpec,
    TrialTask,
    heldout_engine_metrics,
    parse_constraint,
    split_named,
)

#: ``Corpus.measured_on`` of both splits, as the default corpus gives them.
MEASURED_ON = {
    "validation": {"source": "synthetic:0123abcd", "split": "validation", "engines": ["espeak", "flite"],
                   "voices": ["espeak:en+m3", "flite:slt"], "heldout_engines": []},
    "test": {"source": "synthetic:0123abcd", "split": "test", "engines": ["festival"],
             "voices": ["festival:kal_diphone"], "heldout_engines": ["festival"]},
}
PARAMS = {"snn.family": "spikeformer", "snn.variant": "spiking", "snn.width": 32, "snn.depth": 1}


def _spec(**changes: Any) -> StudySpec:
    data = tiny_spec_data("joint", trials=1)
    for key, value in changes.items():
        data[key] = value
    return parse_spec(StudySpec, data)


def test_heldout_engine_metrics_are_one_named_metric_each_with_the_split_said() -> None:
    assert METRICS["heldout_engine_accuracy"] == "max" and METRICS["heldout_engine_unknown_recall"] == "max"
    assert METRICS["heldout_engine_wer"] == "min" and METRICS["heldout_engine_cer"] == "min"
    assert split_named("heldout_engine_accuracy") == "held-out-engine accuracy"
    assert split_named("accuracy") == "validation accuracy" and split_named("test_wer") == "test wer"
    assert parse_constraint("heldout_engine_accuracy >= 0.5").value({"heldout_engine_accuracy": 0.4}) > 0
    figures = {"test_accuracy": 0.4, "test_unknown_recall": 0.1, "validation_accuracy": 0.9}
    assert heldout_engine_metrics(figures, MEASURED_ON["test"]) == {
        "heldout_engine_accuracy": 0.4, "heldout_engine_unknown_recall": 0.1}
    # a test split of training engines (no engine held out, or the held-out one missing): not held out
    assert heldout_engine_metrics(figures, {**MEASURED_ON["test"], "engines": ["espeak"], "heldout_engines": []}) == {}
    assert heldout_engine_metrics(figures, {"engines": [], "heldout_engines": []}) == {}  # recorded speech


def test_a_study_takes_heldout_engine_accuracy_as_objective_constraint_or_floor_where_an_engine_is_held_out() -> None:
    spec = _spec(objectives={"heldout_engine_accuracy": "max", "energy_uj": "min"},
                 constraints=["heldout_engine_unknown_recall >= 0.2"], floor="heldout_engine_accuracy >= 0.1")
    assert spec.heldout_engine_metrics_used() == ["heldout_engine_accuracy", "heldout_engine_unknown_recall"]
    assert _spec().heldout_engine_metrics_used() == []
    corpus = {"task": "commands", "size": 60, "seed": 1, "n_speakers": 10}
    with pytest.raises(ConfigError, match=r"corpus with an engine held out.*holds no engine out"):
        _spec(objectives={"heldout_engine_accuracy": "max"},
              corpus={**corpus, "engines": {"train": ["espeak", "flite"], "heldout": []}})
    with pytest.raises(ConfigError, match="task 'digits' measures wer, cer, heldout_engine_wer"):
        _spec(objectives={"heldout_engine_accuracy": "max"}, corpus={"task": "digits", "size": 60})


@pytest.mark.slow
def test_a_trial_records_its_heldout_engine_accuracy_and_what_each_split_held(
        tmp_path: Path, tiny_commands_config, commands_corpus) -> None:
    """A real trial (tiny corpus, one epoch): the held-out-engine accuracy is the test split's,
    an objective like any other, and the record names the engines and voices of both splits
    as the corpus gave them; a rung scores the test split only when the study selects on it."""
    from codesign.search._evaluate import evaluate_trial

    corpus_cfg = tiny_commands_config.to_dict()
    spec = _spec(corpus=corpus_cfg, objectives={"heldout_engine_accuracy": "max", "energy_uj": "min"},
                 constraints=["heldout_engine_accuracy >= 0"], fidelity={"epochs": 2, "batch_size": 16,
                                                                               "threads": 1},
                 multi_fidelity={"rungs": [1]})
    store = ArtifactStore(tmp_path)
    record = evaluate_trial(TrialTask(params=PARAMS, spec=spec, trial_number=0, store=store,
                                      corpus=commands_corpus)).record
    assert record.error is None and record.pruned is None
    assert record.objectives["heldout_engine_accuracy"] == record.metrics["test_accuracy"]
    assert record.constraints["heldout_engine_accuracy >= 0"] == -record.metrics["test_accuracy"]
    # (recall of `unknown` is measured where the split holds unknown words; this tiny one may not)
    assert record.metrics.get("heldout_engine_unknown_recall") == record.metrics.get("test_unknown_recall")
    assert set(record.measured_on) == {"validation", "test"}
    for split, measured in record.measured_on.items():
        assert measured.to_dict() == commands_corpus.measured_on(split)
        assert measured.voices and all(v.split(":")[0] in measured.engines for v in measured.voices)
    assert record.measured_on["test"].heldout_engines == record.measured_on["test"].engines == ["festival"]
    assert "festival" not in record.measured_on["validation"].engines

    # a rung of a study that selects on the held-out engine scores the test split too
    rung = evaluate_trial(TrialTask(params=PARAMS, spec=spec, trial_number=1, store=store, corpus=commands_corpus,
                                    until_epoch=1)).record
    assert rung.rung_epoch == 1 and "heldout_engine_accuracy" in rung.objectives
    assert set(rung.measured_on) == {"validation", "test"}
    # a study that does not: the rung scores validation only, and says so
    plain = dataclasses.replace(TrialTask(params=PARAMS, spec=_spec(corpus=corpus_cfg, fidelity=spec.fidelity.to_dict(),
                                                                     multi_fidelity={"rungs": [1]}),
                                          trial_number=2, store=store, corpus=commands_corpus, until_epoch=1))
    rung = evaluate_trial(plain).record
    assert not any(k.startswith(("test_", "heldout_engine_")) for k in rung.metrics)
    assert set(rung.measured_on) == {"validation"}


def test_a_study_on_a_heldout_metric_is_refused_when_the_heldout_engine_is_missing(
        monkeypatch: pytest.MonkeyPatch, commands_corpus) -> None:
    """The corpus says when its held-out engine is not installed (its test split then holds
    training engines); a study selecting on the held-out engine stops there, before any trial."""
    import codesign.data
    from codesign.search._evaluate import prepare_study

    manifest = {**commands_corpus.manifest, "engines": {"train": ["espeak"], "validation": ["espeak"],
                                                        "test": ["espeak"]},
                "missing_engines": {"festival": {"role": "heldout"}}}
    without = dataclasses.replace(commands_corpus, manifest=manifest)
    monkeypatch.setattr(codesign.data, "load_corpus", lambda cfg, progress=True: without)
    spec = _spec(objectives={"heldout_engine_accuracy": "max", "energy_uj": "min"})
    with pytest.raises(ConfigError, match=r"corpus\.engines\.heldout.*held-out engine installed.*missing: festival"):
        prepare_study(spec, progress=False)
    assert prepare_study(_spec(), progress=False) is without  # a study that does not ask goes on


def test_front_and_points_name_the_engines_and_voices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_stored_study(tmp_path, "m", trials=6, measured_on=[MEASURED_ON])
    assert main(["study", "front", "m", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert ("measured on the validation split, unseen speakers of the training engines: espeak, flite; "
            "2 voice(s): espeak:en+m3, flite:slt") in out
    assert ("measured on the held-out-engine (test) split, engines never heard in training: festival; "
            "1 voice(s): festival:kal_diphone") in out
    assert "different engines or voices" not in out
    assert main(["study", "front", "m", "--runs-dir", str(tmp_path), "--format", "json"]) == 0
    front = json.loads(capsys.readouterr().out)
    assert front and all(r["measured_on.test.voices"] == "festival:kal_diphone" for r in front)
    assert main(["study", "points", "m", "--runs-dir", str(tmp_path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["measured_on.test.engines"] == "festival" for r in rows)
    assert all(r["measured_on.validation.voices"] == "espeak:en+m3,flite:slt" for r in rows)

    # trials measured on other voices (a study continued on another machine): the front says so
    other = {**MEASURED_ON, "test": {**MEASURED_ON["test"], "voices": ["festival:ked_diphone"]}}
    write_stored_study(tmp_path, "mixed", trials=6, measured_on=[MEASURED_ON, other])
    assert main(["study", "front", "mixed", "--runs-dir", str(tmp_path)]) == 0
    assert "trials were measured on different engines or voices" in capsys.readouterr().out
    # records from before codesign kept it: nothing is claimed
    write_stored_study(tmp_path, "old", trials=6)
    assert main(["study", "front", "old", "--runs-dir", str(tmp_path)]) == 0
    assert "measured on" not in capsys.readouterr().out
