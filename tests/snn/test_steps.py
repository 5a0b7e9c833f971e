"""Neuron dynamics are pure step functions run by one time loop; what watches them attaches from outside."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch

from codesign.snn import (
    LIF,
    LIFParameters,
    OpCounts,
    SRNNConfig,
    attach_probe,
    build_model,
    firing_rates,
    lif_step,
    over_time,
)


def test_lif_step_is_pure_and_over_time_is_its_loop() -> None:
    p = LIFParameters(threshold=1.0, decay=0.5, reset="soft")
    x = torch.tensor([[0.6, 1.5], [0.6, 0.8], [0.6, 0.0], [0.6, 0.0]])
    v0 = torch.zeros(2)
    first = lif_step(v0, x[0], p)
    assert torch.equal(v0, torch.zeros(2))  # the state passed in is untouched
    assert all(torch.equal(a, b) for a, b in zip(first[1], lif_step(v0, x[0], p)[1], strict=True))
    v, manual = v0, []
    for t in range(4):
        v, (s,) = lif_step(v, x[t], p)
        manual.append(s)
    final, (spikes,) = over_time(lambda state, x_t: lif_step(state, x_t, p), v0, x)
    assert torch.equal(spikes, torch.stack(manual)) and torch.equal(final, v)
    assert torch.equal(spikes, LIF(1.0, 0.5, "soft")(x))
    assert spikes[:, 0].tolist() == [0.0, 0.0, 1.0, 0.0]  # v: 0.6, 0.9, 1.05 -> spike


def test_a_hold_sees_every_state_in_step_order_and_may_change_it() -> None:
    p = LIFParameters(threshold=1.0, decay=0.5)
    seen: list[float] = []

    def floor_to_tenths(v: torch.Tensor) -> torch.Tensor:
        seen.append(float(v))
        return torch.floor(v * 10) / 10

    _, (spikes,) = over_time(lambda v, x_t: lif_step(v, x_t, p, floor_to_tenths), torch.zeros(()),
                             torch.full((4,), 0.66))
    # held: 0.66 -> 0.6; 0.3 + 0.66 -> 0.9; 0.45 + 0.66 -> 1.1, a spike, soft reset to 0.1; 0.05 + 0.66
    assert seen == pytest.approx([0.66, 0.96, 1.11, 0.71], abs=1e-6)
    assert spikes.tolist() == [0.0, 0.0, 1.0, 0.0]


class _Sink:
    def __init__(self) -> None:
        self.ops: list[tuple[str, dict[str, object]]] = []

    def record_op(self, module: torch.nn.Module, op: str, **counts: object) -> None:
        self.ops.append((op, counts))


def test_probes_attach_and_detach_from_outside_and_models_still_pickle() -> None:
    neuron = LIF(1.0, 0.5)
    hooks_before = (len(neuron._forward_hooks), len(neuron._forward_pre_hooks))
    sink = _Sink()
    attach_probe(neuron, sink)
    x = torch.full((3, 1, 2), 0.6)
    neuron(x)
    (op, counts), = sink.ops
    assert op == "neuron" and counts["neuron_evaluations"] == 6.0 and counts["state_size"] == 2
    changed = counts["membrane_changed"]
    assert isinstance(changed, torch.Tensor) and changed.shape == (3, 1, 2) and bool(changed.all())
    attach_probe(neuron, None)
    assert (len(neuron._forward_hooks), len(neuron._forward_pre_hooks)) == hooks_before
    neuron(x)
    assert len(sink.ops) == 1
    model = build_model(SRNNConfig(width=8, depth=1), 4, 3, "classify").train()
    model(torch.randn(2, 6, 4), torch.tensor([6, 4]))
    assert len(firing_rates(model)) == 1
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert firing_rates(clone) == []  # no autograd graph travels with a copy
        clone(torch.randn(2, 6, 4), torch.tensor([6, 4]))
        assert len(firing_rates(clone)) == 1  # the activity observer came along


def test_op_counts_are_one_typed_record() -> None:
    counts = OpCounts(kind="elementwise", in_shape=(4,), out_shape=(4,), steps=3, aux_ops=2.0)
    assert counts.effective_ops == 0.0 and counts.membrane_changed is None
