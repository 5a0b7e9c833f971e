"""The network as a NIR graph (Neuromorphic Intermediate Representation), for the layers NIR
can express. docs/nir.md lists what is approximated and what is left out.

The graph is found by running the inference form of the network (``fuse_model``) on one real
utterance with forward hooks on its leaf modules: a node's input edge comes from the node
whose output tensor (or a view of it: same storage) it consumed. An input made by an operation
NIR has no primitive for (attention products, residual sums, scans, time repetition) has no
producer node; the node records it in ``metadata["codesign_unconnected_input"]`` instead of
getting an invented edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class NirExport:
    """A NIR graph and what it does not say exactly.

    Attributes:
        graph: the ``nir.NIRGraph``.
        approximated: node name -> how it differs from the network.
        left_out: module name -> why it has no node.
        unconnected: node names whose input comes from an operation NIR cannot express.
    """

    graph: Any
    approximated: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    unconnected: tuple[str, ...] = ()


@dataclass
class _Call:
    name: str
    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    output: Any


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float32).cpu().numpy().copy()


def _fold_bn(weight: np.ndarray, bias: np.ndarray, bn: nn.BatchNorm1d) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode batch norm after a layer folded into the layer's weight and bias (exact)."""
    assert bn.running_var is not None and bn.running_mean is not None
    scale = _np(bn.weight) / np.sqrt(_np(bn.running_var) + bn.eps) if bn.affine else 1.0 / np.sqrt(_np(bn.running_var) + bn.eps)
    shift = _np(bn.bias) if bn.affine else 0.0
    shape = (-1,) + (1,) * (weight.ndim - 1)
    return weight * np.reshape(scale, shape), (bias - _np(bn.running_mean)) * scale + shift


def network_to_nir(
    model: nn.Module, features: torch.Tensor, lengths: torch.Tensor, metadata: dict[str, Any] | None = None
) -> NirExport:
    """Convert ``model`` (the docs/models.md forward contract) into a NIR graph.

    Args:
        model: the trained network (training form; it is fused on a copy).
        features: ``[1, frames, F]`` one real utterance, used to find the data flow.
        lengths: ``[1]`` its valid frames.
        metadata: put in the graph's metadata (e.g. the model config).

    Returns:
        The graph with the lists of approximations and omissions.
    """
    import nir

    from codesign.snn import IMLS, LIF, FATReLU, fuse_model

    net = fuse_model(model).eval()
    calls: list[_Call] = []
    hooks = []
    for name, module in net.named_modules():
        if name and not any(True for _ in module.children()):
            hooks.append(module.register_forward_hook(
                lambda m, inp, out, name=name: calls.append(_Call(name, m, tuple(i for i in inp if isinstance(i, torch.Tensor)), out))
            ))
    try:
        with torch.no_grad():
            out, _ = net(features, lengths)
    finally:
        for h in hooks:
            h.remove()

    nodes: dict[str, Any] = {}
    node_meta: dict[str, dict[str, Any]] = {}
    edges: set[tuple[str, str]] = set()
    producer: dict[int, str] = {features.data_ptr(): "input"}
    approximated: dict[str, str] = {}
    left_out: dict[str, str] = {}
    unconnected: list[str] = []
    folded: set[str] = set()

    def node_name(module_name: str) -> str:
        return module_name.replace(".", "_")

    def connect(node: str, x: torch.Tensor | None) -> None:
        src = producer.get(x.data_ptr()) if x is not None else None
        if src is not None and src != node:
            edges.add((src, node))
        elif src is None and node not in unconnected:
            unconnected.append(node)

    for call in calls:
        m, x = call.module, (call.inputs[0] if call.inputs else None)
        y = call.output if isinstance(call.output, torch.Tensor) else None
        name = node_name(call.name)
        new: Any = None
        if isinstance(m, nn.Linear):
            w = _np(m.weight)
            new = nir.Affine(weight=w, bias=_np(m.bias) if m.bias is not None else np.zeros(w.shape[0], np.float32))
        elif isinstance(m, nn.Conv1d):
            w = _np(m.weight)
            padding = m.padding if isinstance(m.padding, str) else int(m.padding[0])
            new = nir.Conv1d(
                input_shape=int(x.shape[-1]) if x is not None else None, weight=w, stride=int(m.stride[0]), padding=padding, dilation=int(m.dilation[0]),
                groups=int(m.groups), bias=_np(m.bias) if m.bias is not None else np.zeros(w.shape[0], np.float32),
            )
        elif isinstance(m, nn.BatchNorm1d) and x is not None and y is not None:
            src = producer.get(x.data_ptr())
            target = nodes.get(src) if src is not None else None
            if isinstance(target, (nir.Affine, nir.Conv1d)) and src not in folded:
                target.weight, target.bias = _fold_bn(target.weight, target.bias, m)
                folded.add(src)  # type: ignore[arg-type]
                producer[y.data_ptr()] = src  # type: ignore[assignment]
                node_meta.setdefault(src, {})["folded_batch_norm"] = call.name  # type: ignore[arg-type]
            else:
                left_out.setdefault(call.name, "batch norm after an operation NIR cannot express (nothing to fold into)")
            continue
        elif isinstance(m, LIF):
            c = int(x.shape[-1]) if x is not None else 1
            # Discrete v[t] = decay v[t-1] + x[t] is NIR's tau dv/dt = (v_leak - v) + r I with
            # dt = 1: decay = 1 - 1/tau and r = tau.
            tau = 1.0 / (1.0 - m.decay)
            new = nir.LIF(
                tau=np.full(c, tau, np.float32), r=np.full(c, tau, np.float32), v_leak=np.zeros(c, np.float32),
                v_threshold=np.full(c, m.threshold, np.float32),
                v_reset=np.zeros(c, np.float32),
            )
            if m.reset == "soft":
                approximated[name] = "soft reset (subtract the threshold) written as NIR's reset to v_reset = 0"
        elif isinstance(m, IMLS):
            c = int(x.shape[-1]) if x is not None else 1
            theta = float(m.scale.detach().clamp(min=1e-3))
            new = nir.IF(r=np.ones(c, np.float32), v_threshold=np.full(c, theta, np.float32))
            approximated[name] = (
                f"IMLS multi-level spike (levels 0..{m.max_level} per step) as an IF neuron run for "
                f"{m.max_level} sub-steps on a constant input"
                + (f"; input-aware threshold alpha*mean|x| replaced by alpha = {theta:.4g}" if m.adaptive else "")
            )
            node_meta.setdefault(name, {}).update({"codesign_neuron": "imls", "levels": m.max_level, "adaptive": m.adaptive})
        elif isinstance(m, (nn.Dropout, nn.Identity)):
            if x is not None and y is not None and x.data_ptr() in producer:
                producer[y.data_ptr()] = producer[x.data_ptr()]
            continue
        elif isinstance(m, FATReLU):
            left_out.setdefault(call.name, "FATReLU (x if x >= t else 0) has no NIR primitive")
            continue
        else:
            left_out.setdefault(call.name, f"{type(m).__name__} has no NIR primitive")
            continue
        if name not in nodes:
            nodes[name] = new
        connect(name, x)
        if y is not None:
            producer[y.data_ptr()] = name

    out_src = producer.get(out.data_ptr())
    c_in, c_out = int(features.shape[-1]), int(out.shape[-1])
    nodes["input"] = nir.Input(input_type={"input": np.array([c_in])})
    nodes["output"] = nir.Output(output_type={"output": np.array([c_out])})
    if out_src is not None:
        edges.add((out_src, "output"))
    for name, meta in node_meta.items():
        if name in nodes:
            nodes[name].metadata.update(meta)
    for name in unconnected:
        nodes[name].metadata["codesign_unconnected_input"] = "made by an operation NIR cannot express"
    graph_meta = dict(metadata or {})
    graph_meta["codesign_left_out"] = dict(left_out)
    graph_meta["codesign_approximated"] = dict(approximated)
    if out_src is None:
        graph_meta["codesign_output"] = "the network's output is made by an operation NIR cannot express"
    graph = nir.NIRGraph(nodes=nodes, edges=sorted(edges), metadata=graph_meta, type_check=False)
    return NirExport(graph, approximated, left_out, tuple(unconnected))
