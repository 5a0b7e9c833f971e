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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from codesign.snn import IMLS, LIF, FATReLU, fuse_model

if TYPE_CHECKING:
    import nir


@dataclass(frozen=True)
class NirExport:
    """A NIR graph and what it does not say exactly.

    Attributes:
        graph: the ``nir.NIRGraph``.
        approximated: node name -> how it differs from the network.
        left_out: module name -> why it has no node.
        unconnected: node names whose input comes from an operation NIR cannot express.
    """

    graph: nir.NIRGraph
    approximated: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    unconnected: tuple[str, ...] = ()


@dataclass
class _Call:
    """One call of a leaf module during the probing pass."""

    name: str
    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    output: object

    @property
    def input(self) -> torch.Tensor | None:
        return self.inputs[0] if self.inputs else None

    @property
    def tensor_output(self) -> torch.Tensor | None:
        return self.output if isinstance(self.output, torch.Tensor) else None


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float32).cpu().numpy().copy()


def _fold_bn(weight: np.ndarray, bias: np.ndarray, bn: nn.BatchNorm1d) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode batch norm after a layer folded into the layer's weight and bias (exact)."""
    assert bn.running_var is not None and bn.running_mean is not None
    scale = _np(bn.weight) / np.sqrt(_np(bn.running_var) + bn.eps) if bn.affine else 1.0 / np.sqrt(_np(bn.running_var) + bn.eps)
    shift = _np(bn.bias) if bn.affine else 0.0
    shape = (-1,) + (1,) * (weight.ndim - 1)
    return weight * np.reshape(scale, shape), (bias - _np(bn.running_mean)) * scale + shift


@dataclass
class _GraphBuilder:
    """The graph as the calls are read: nodes, edges, and which node made each tensor.

    ``producer`` maps a tensor's storage pointer to the node that made it, so a later call
    that consumes that tensor (or a view of it) gets an edge from that node.
    """

    features: torch.Tensor
    nodes: dict[str, Any] = field(default_factory=dict)
    node_meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)
    producer: dict[int, str] = field(default_factory=dict)
    approximated: dict[str, str] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    unconnected: list[str] = field(default_factory=list)
    folded: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.producer[self.features.data_ptr()] = "input"

    def add(self, call: _Call, node: nir.NIRNode) -> None:
        """A node for ``call`` (the first call of a module makes it), its input edge, its output."""
        name = _node_name(call.name)
        if name not in self.nodes:
            self.nodes[name] = node
        self.connect(name, call.input)
        if call.tensor_output is not None:
            self.producer[call.tensor_output.data_ptr()] = name

    def connect(self, node: str, x: torch.Tensor | None) -> None:
        src = self.producer.get(x.data_ptr()) if x is not None else None
        if src is not None and src != node:
            self.edges.add((src, node))
        elif src is None and node not in self.unconnected:
            self.unconnected.append(node)

    def leave_out(self, call: _Call, why: str) -> None:
        self.left_out.setdefault(call.name, why)

    def graph(self, out: torch.Tensor, metadata: dict[str, Any] | None) -> NirExport:
        """The finished NIR graph, with input and output nodes and codesign's notes."""
        import nir

        out_src = self.producer.get(out.data_ptr())
        nodes = dict(self.nodes)
        nodes["input"] = nir.Input(input_type={"input": np.array([int(self.features.shape[-1])])})
        nodes["output"] = nir.Output(output_type={"output": np.array([int(out.shape[-1])])})
        edges = set(self.edges)
        if out_src is not None:
            edges.add((out_src, "output"))
        for name, meta in self.node_meta.items():
            if name in nodes:
                nodes[name].metadata.update(meta)
        for name in self.unconnected:
            nodes[name].metadata["codesign_unconnected_input"] = "made by an operation NIR cannot express"
        graph_meta = dict(metadata or {})
        graph_meta["codesign_left_out"] = dict(self.left_out)
        graph_meta["codesign_approximated"] = dict(self.approximated)
        if out_src is None:
            graph_meta["codesign_output"] = "the network's output is made by an operation NIR cannot express"
        graph = nir.NIRGraph(nodes=nodes, edges=sorted(edges), metadata=graph_meta, type_check=False)
        return NirExport(graph, dict(self.approximated), dict(self.left_out), tuple(self.unconnected))


def _node_name(module_name: str) -> str:
    return module_name.replace(".", "_")


def _bias(m: nn.Linear | nn.Conv1d, weight: np.ndarray) -> np.ndarray:
    return _np(m.bias) if m.bias is not None else np.zeros(weight.shape[0], np.float32)


def _channels(call: _Call) -> int:
    return int(call.input.shape[-1]) if call.input is not None else 1


def _linear(call: _Call, graph: _GraphBuilder) -> None:
    import nir

    assert isinstance(call.module, nn.Linear)
    w = _np(call.module.weight)
    graph.add(call, nir.Affine(weight=w, bias=_bias(call.module, w)))


def _conv1d(call: _Call, graph: _GraphBuilder) -> None:
    import nir

    m, x = call.module, call.input
    assert isinstance(m, nn.Conv1d)
    w = _np(m.weight)
    padding = m.padding if isinstance(m.padding, str) else int(m.padding[0])
    graph.add(call, nir.Conv1d(
        input_shape=int(x.shape[-1]) if x is not None else None, weight=w, stride=int(m.stride[0]),
        padding=padding, dilation=int(m.dilation[0]), groups=int(m.groups), bias=_bias(m, w),
    ))


def _batch_norm(call: _Call, graph: _GraphBuilder) -> None:
    """Folded into the Affine/Conv1d node that made its input (exact in eval mode), else left out."""
    import nir

    m, x, y = call.module, call.input, call.tensor_output
    assert isinstance(m, nn.BatchNorm1d)
    if x is None or y is None:
        graph.leave_out(call, f"{type(m).__name__} has no NIR primitive")
        return
    src = graph.producer.get(x.data_ptr())
    target = graph.nodes.get(src) if src is not None else None
    if src is None or not isinstance(target, (nir.Affine, nir.Conv1d)) or src in graph.folded:
        graph.leave_out(call, "batch norm after an operation NIR cannot express (nothing to fold into)")
        return
    target.weight, target.bias = _fold_bn(target.weight, target.bias, m)
    graph.folded.add(src)
    graph.producer[y.data_ptr()] = src
    graph.node_meta.setdefault(src, {})["folded_batch_norm"] = call.name


def _lif(call: _Call, graph: _GraphBuilder) -> None:
    import nir

    m, c = call.module, _channels(call)
    assert isinstance(m, LIF)
    # Discrete v[t] = decay v[t-1] + x[t] is NIR's tau dv/dt = (v_leak - v) + r I with
    # dt = 1: decay = 1 - 1/tau and r = tau.
    tau = 1.0 / (1.0 - m.decay)
    node = nir.LIF(
        tau=np.full(c, tau, np.float32), r=np.full(c, tau, np.float32), v_leak=np.zeros(c, np.float32),
        v_threshold=np.full(c, m.threshold, np.float32), v_reset=np.zeros(c, np.float32),
    )
    if m.reset == "soft":
        graph.approximated[_node_name(call.name)] = "soft reset (subtract the threshold) written as NIR's reset to v_reset = 0"
    graph.add(call, node)


def _imls(call: _Call, graph: _GraphBuilder) -> None:
    import nir

    m, c, name = call.module, _channels(call), _node_name(call.name)
    assert isinstance(m, IMLS)
    theta = float(m.scale.detach().clamp(min=1e-3))
    node = nir.IF(r=np.ones(c, np.float32), v_threshold=np.full(c, theta, np.float32))
    graph.approximated[name] = (
        f"IMLS multi-level spike (levels 0..{m.max_level} per step) as an IF neuron run for "
        f"{m.max_level} sub-steps on a constant input"
        + (f"; input-aware threshold alpha*mean|x| replaced by alpha = {theta:.4g}" if m.adaptive else "")
    )
    graph.node_meta.setdefault(name, {}).update({"codesign_neuron": "imls", "levels": m.max_level, "adaptive": m.adaptive})
    graph.add(call, node)


def _pass_through(call: _Call, graph: _GraphBuilder) -> None:
    """Dropout and identity: no node; their output is their input's producer's."""
    x, y = call.input, call.tensor_output
    if x is not None and y is not None and x.data_ptr() in graph.producer:
        graph.producer[y.data_ptr()] = graph.producer[x.data_ptr()]


def _fatrelu(call: _Call, graph: _GraphBuilder) -> None:
    graph.leave_out(call, "FATReLU (x if x >= t else 0) has no NIR primitive")


#: One converter per module type, tried in this order; a module of no listed type is left out.
_CONVERTERS: tuple[tuple[type | tuple[type, ...], Callable[[_Call, _GraphBuilder], None]], ...] = (
    (nn.Linear, _linear),
    (nn.Conv1d, _conv1d),
    (nn.BatchNorm1d, _batch_norm),
    (LIF, _lif),
    (IMLS, _imls),
    ((nn.Dropout, nn.Identity), _pass_through),
    (FATReLU, _fatrelu),
)


def _leaf_calls(net: nn.Module, features: torch.Tensor, lengths: torch.Tensor) -> tuple[list[_Call], torch.Tensor]:
    """Every call of a leaf module during one no-grad forward pass, in order, and the output."""
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
    return calls, out


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
    calls, out = _leaf_calls(fuse_model(model).eval(), features, lengths)
    graph = _GraphBuilder(features)
    for call in calls:
        convert = next((f for kind, f in _CONVERTERS if isinstance(call.module, kind)), None)
        if convert is None:
            graph.leave_out(call, f"{type(call.module).__name__} has no NIR primitive")
        else:
            convert(call, graph)
    return graph.graph(out, metadata)
