"""The inference form of a network (:func:`fuse_model`): every ``fuse()`` applied, eval mode.

A block with re-parameterised training branches (the RepSSA projections) defines ``fuse()``;
what a chip computes, what the trace records, what NIR exports and what the precision
quantises is the fused form. Imports only torch, so every module of ``codesign.snn``
(the precision included) can use it without importing a family.
"""

from __future__ import annotations

import copy

from torch import nn


def fuse_model(model: nn.Module, copy_first: bool = True) -> nn.Module:
    """The inference form of ``model``: every ``fuse()`` applied (on a deep copy by default), eval mode."""
    target = copy.deepcopy(model) if copy_first else model
    fuse = getattr(target, "fuse", None)
    if callable(fuse):
        fuse()
    else:
        for module in target.modules():
            fuse_module = getattr(module, "fuse", None)
            if module is not target and callable(fuse_module):
                fuse_module()
    return target.eval()


__all__ = ["fuse_model"]
