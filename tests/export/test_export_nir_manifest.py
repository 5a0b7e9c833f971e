"""NIR conversion of real built networks, and bundle manifests catching damaged files."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
import torch

from codesign.config import ConfigError
from codesign.export import network_to_nir, verify_bundle, write_manifest
from codesign.snn import SpikeformerConfig, build_model


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)


def _net(neuron: str) -> torch.nn.Module:
    cfg = SpikeformerConfig(family="spikeformer", width=16, depth=1, heads=2, levels=3, neuron=neuron, timesteps=2)
    net = build_model(cfg, 20, 5, "classify")
    # Non-trivial batch-norm statistics, so folding them is visible in the weights.
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return net.eval()


@pytest.mark.parametrize("neuron", ["lif", "imls"])
def test_nir_graph_round_trips_and_folds_batch_norm(neuron: str, tmp_path: Path) -> None:
    net = _net(neuron)
    x = torch.zeros(1, 40, 20)
    exported = network_to_nir(net, x, torch.tensor([40]), {"family": "spikeformer"})
    graph = exported.graph
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    assert kinds["input"] == "Input" and kinds["output"] == "Output"
    assert kinds["conv1"] == "Conv1d" and kinds["classifier"] == "Affine"
    assert kinds["front_sn"] == ("LIF" if neuron == "lif" else "IF")
    assert kinds["blocks_0_fc1"] == "Affine"
    assert ("input", "conv1") in graph.edges and ("conv1", "front_sn") in graph.edges
    assert ("blocks_0_fc1", "blocks_0_ffn_act") in graph.edges
    # Every edge joins real nodes; the attention product is not invented as an edge.
    assert all(a in graph.nodes and b in graph.nodes for a, b in graph.edges)
    assert "blocks.0.attn.attn_bn" in exported.left_out
    assert exported.unconnected  # inputs made by attention / residual sums
    # fc1 carries bn1 folded in: W' = W * g/sqrt(var+eps), b' = (b - mean) * g/sqrt(var+eps) + beta.
    fc1, bn1 = net.blocks[0].fc1, net.blocks[0].bn1
    scale = (bn1.weight / torch.sqrt(bn1.running_var + bn1.eps)).detach().numpy()
    np.testing.assert_allclose(graph.nodes["blocks_0_fc1"].weight, fc1.weight.detach().numpy() * scale[:, None], rtol=1e-5)
    bias = fc1.bias if fc1.bias is not None else torch.zeros(fc1.out_features)
    expected_bias = (bias - bn1.running_mean).detach().numpy() * scale + bn1.bias.detach().numpy()
    np.testing.assert_allclose(graph.nodes["blocks_0_fc1"].bias, expected_bias, rtol=1e-5, atol=1e-6)
    if neuron == "lif":
        lif = graph.nodes["front_sn"]
        # decay 0.5 -> tau = 1 / (1 - 0.5) = 2 timesteps.
        np.testing.assert_allclose(lif.tau, 2.0)
        np.testing.assert_allclose(lif.v_threshold, 1.0)
    else:
        assert "IMLS multi-level spike (levels 0..3" in exported.approximated["front_sn"]
        assert graph.nodes["front_sn"].metadata["levels"] == 3
    path = tmp_path / "net.nir"
    nir.write(path, graph)
    back = nir.read(path, type_check=False)
    assert set(back.nodes) == set(graph.nodes)
    assert sorted(map(tuple, back.edges)) == sorted(graph.edges)
    np.testing.assert_allclose(back.nodes["classifier"].weight, graph.nodes["classifier"].weight)
    assert "blocks.0.attn.attn_bn" in back.metadata["codesign_left_out"]


def test_manifest_names_truncated_edited_and_missing_files(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    (bundle / "sub").mkdir(parents=True)
    (bundle / "a.bin").write_bytes(b"x" * 100)
    (bundle / "b.txt").write_text("hello")
    (bundle / "sub" / "c.txt").write_text("deep")
    manifest = write_manifest(bundle)
    assert set(manifest["files"]) == {"a.bin", "b.txt", "sub/c.txt"}
    assert verify_bundle(bundle) == manifest
    (bundle / "a.bin").write_bytes(b"x" * 60)
    (bundle / "b.txt").write_text("hellO")
    (bundle / "sub" / "c.txt").unlink()
    with pytest.raises(ConfigError) as err:
        verify_bundle(bundle)
    text = str(err.value)
    assert "a.bin: truncated (60 bytes, manifest says 100)" in text
    assert "b.txt: edited" in text
    assert "sub/c.txt: missing" in text


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        verify_bundle(tmp_path / "nope")
    with pytest.raises(ConfigError, match="manifest"):
        verify_bundle(tmp_path)
    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(ConfigError, match="version 1"):
        verify_bundle(tmp_path)
