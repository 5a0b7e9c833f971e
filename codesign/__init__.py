"""codesign: joint search of spiking-network and neuromorphic-chip parameters for speech.

The package follows one data flow (see docs/ARCHITECTURE.md):
study spec -> trial parameters -> model and chip configs -> training -> workload trace
-> cost model -> objectives -> storage -> report and export.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
