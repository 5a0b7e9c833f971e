"""Speed of the chunked selective scan relative to the per-step loop (forward + backward).

Both run side by side in one process on the same tensors (the machine is shared, so only
the ratio is meaningful), at the shape a Mamba block of the digits benchmark scans:
batch 32, 100 steps, 128 channels, state 8. Writes benchmarks/results/mamba_scan_speed.json.

    PYTHONPATH=$PWD python benchmarks/mamba_scan_speed.py
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from codesign._io import write_text_atomic
from codesign.snn._scan import selective_scan_chunked, selective_scan_sequential

RESULT = Path(__file__).parent / "results" / "mamba_scan_speed.json"


def _time(fn, inputs, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        leaves = [t.detach().requires_grad_(t.is_floating_point()) for t in inputs]
        start = time.perf_counter()
        fn(*leaves).sum().backward()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    batch, steps, channels, n_state = 32, 100, 128, 8
    x = torch.randn(batch, steps, channels, generator=gen)
    delta = torch.nn.functional.softplus(torch.randn(batch, steps, channels, generator=gen) - 2)
    a = -torch.arange(1, n_state + 1, dtype=torch.float32).repeat(channels, 1)
    b = torch.randn(batch, steps, n_state, generator=gen)
    c = torch.randn(batch, steps, n_state, generator=gen)
    inputs = (x, delta, a, b, c)
    max_error = float((selective_scan_chunked(*inputs) - selective_scan_sequential(*inputs)).abs().max())
    repeats = 5
    loop_s, chunked_s = [], []
    for _ in range(2):  # interleaved, so load changes hit both
        loop_s.append(_time(selective_scan_sequential, inputs, repeats))
        chunked_s.append(_time(selective_scan_chunked, inputs, repeats))
    loop, chunked = min(loop_s), min(chunked_s)
    result = {
        "command": "PYTHONPATH=$PWD " + " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv]),
        "shape": {"batch": batch, "steps": steps, "channels": channels, "state": n_state, "chunk": 8},
        "threads": 1,
        "loop_s": loop,
        "chunked_s": chunked,
        "chunked_over_loop_speedup": loop / chunked,
        "max_abs_difference": max_error,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "note": "shared 2-core machine, other engineers' jobs running; best of 5 forward+backward passes",
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(RESULT, json.dumps(result, indent=2) + "\n")
    print(
        f"mamba_scan_speed: loop {loop * 1e3:.0f} ms, chunked {chunked * 1e3:.0f} ms, "
        f"chunked/loop speed-up {loop / chunked:.2f}x (CPU, 1 thread), max |diff| {max_error:.1e}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
