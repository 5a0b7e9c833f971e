"""A mixed-precision chip's integer weights: each layer stored and checked at its own bits."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open

from codesign.export._bundle import WEIGHTS_INT_FILE, _write_integer_weights
from codesign.export._evaluate import _integer_weights_row
from codesign.snn import Precision, SpikeformerConfig, build_model, quantise_network


def test_the_wide_projections_are_stored_at_their_bits_and_read_back_exactly(tmp_path: Path) -> None:
    torch.manual_seed(4)
    net = build_model(SpikeformerConfig(width=16, heads=2, depth=1, rep_kernel=3), 40, 5, "classify").eval()
    mixed = Precision(weight_bits=2, wide_weight_bits=4)
    on_chip, _ = quantise_network(net, mixed)
    _write_integer_weights(tmp_path / WEIGHTS_INT_FILE, on_chip, mixed)
    with safe_open(str(tmp_path / WEIGHTS_INT_FILE), "pt") as stored:
        metadata = stored.metadata()
        levels = {k: stored.get_tensor(k) for k in stored.keys() if k.endswith(".levels")}
    wide = set(metadata["wide_weights"].split(","))
    assert metadata["wide_weight_bits"] == "4" and wide == {
        f"blocks.0.attn.{p}_proj.fused.weight" for p in ("q", "k", "v")}
    for name, ints in levels.items():
        assert int(ints.abs().max()) <= (7 if name.removesuffix(".levels") in wide else 1)
    assert _integer_weights_row(tmp_path, on_chip, mixed).new == 0.0


def test_tap_scaled_projections_are_stored_per_tap_and_read_back_exactly(tmp_path: Path) -> None:
    torch.manual_seed(4)
    net = build_model(SpikeformerConfig(width=16, heads=2, depth=1, rep_kernel=3), 40, 5, "classify").eval()
    tapped = Precision(weight_bits=4, tap_scales=True)
    on_chip, _ = quantise_network(net, tapped)
    _write_integer_weights(tmp_path / WEIGHTS_INT_FILE, on_chip, tapped)
    with safe_open(str(tmp_path / WEIGHTS_INT_FILE), "pt") as stored:
        metadata = stored.metadata()
        scales = {k: stored.get_tensor(k) for k in stored.keys() if k.endswith(".scale")}
    per_tap = {f"blocks.0.attn.{p}_proj.fused.weight" for p in ("q", "k", "v")}
    assert set(metadata["tap_scaled"].split(",")) == per_tap and "tap" in metadata["convention"]
    for name, scale in scales.items():
        assert scale.shape == ((16, 3) if name.removesuffix(".scale") in per_tap else scale.shape[:1])
    assert _integer_weights_row(tmp_path, on_chip, tapped).new == 0.0
