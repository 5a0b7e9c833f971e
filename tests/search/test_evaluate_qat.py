"""A ``precision: qat`` study trains every weight width for the same epochs: a 32-bit (float)
chip gets the float run and the same fine-tune in float, not the float run alone."""

from __future__ import annotations

from pathlib import Path

import torch
from _tiny import tiny_spec_data

from codesign.config import parse_spec
from codesign.search import ArtifactStore, StudySpec
from codesign.search._evaluate import TrainedNetwork, _qat, _train_cached, _Workspace
from codesign.snn import Precision
from codesign.train import finetune_control


def test_every_weight_width_of_a_qat_study_trains_the_same_epochs(tmp_path: Path, commands_corpus) -> None:
    study = parse_spec(StudySpec, tiny_spec_data("joint", trials=1, precision="qat"))
    model_cfg, train_cfg = study.model_for({}), study.train_for({})
    (tmp_path / "scratch").mkdir()
    space = _Workspace(ArtifactStore(tmp_path / "store"), tmp_path / "scratch")

    def trained(bits: int) -> TrainedNetwork:
        return _train_cached(space, model_cfg, _qat(train_cfg, Precision(weight_bits=bits), study), study.corpus,
                             commands_corpus, study)

    narrow, wide = trained(4), trained(32)
    epochs = train_cfg.epochs
    assert epochs is not None
    assert narrow.metrics["epochs_completed"] == wide.metrics["epochs_completed"] > epochs
    # the float chip's network is the float fine-tune (finetune_control), in its own cache entry
    control = finetune_control(model_cfg, commands_corpus, train_cfg, seed=study.seed)
    assert wide.metrics["epochs_completed"] == control.metrics["epochs_completed"]
    got, want = wide.network().state_dict(), control.model.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    ptq = parse_spec(StudySpec, tiny_spec_data("joint", trials=1))
    assert _qat(train_cfg, Precision(weight_bits=32), ptq) == train_cfg  # ptq: one float network, unchanged
    assert wide.entry != _train_cached(space, model_cfg, train_cfg, study.corpus, commands_corpus, ptq).entry
