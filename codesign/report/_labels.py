"""Names people read in the report: metrics with their physical meaning and unit, parameters
without their group prefix (the panel or hover section names the group), wrapped so that axis
labels stay narrow."""

from __future__ import annotations

#: Metric -> what it measures, with its unit (the axis titles of every plot).
METRIC_LABELS: dict[str, str] = {
    "accuracy": "validation accuracy (fraction correct)",
    "wer": "validation word error rate (fraction)",
    "cer": "validation character error rate (fraction)",
    "unknown_recall": "validation unknown recall (fraction of unknown words answered unknown)",
    "test_accuracy": "test accuracy (fraction correct)",
    "test_wer": "test word error rate (fraction)",
    "heldout_engine_accuracy": "held-out-engine accuracy (fraction correct)",
    "heldout_engine_unknown_recall": "held-out-engine unknown recall (fraction)",
    "heldout_engine_wer": "held-out-engine word error rate (fraction)",
    "heldout_engine_cer": "held-out-engine character error rate (fraction)",
    "loss": "validation loss",
    "activation_sparsity": "activation sparsity (fraction zero)",
    "energy_uj": "energy per inference (µJ)",
    "latency_ms": "latency per inference (ms)",
    "area_mm2": "chip area (mm²)",
    "sram_used_kb": "SRAM used (KB)",
    "cycles": "cycles per inference",
    "param_count": "parameters",
    "fits_on_chip": "fits on chip",
}

#: Short axis labels for the parallel coordinates (two lines at most).
SHORT_METRIC_LABELS: dict[str, str] = {
    "accuracy": "accuracy",
    "wer": "WER",
    "cer": "CER",
    "heldout_engine_accuracy": "held-out-<br>engine acc.",
    "heldout_engine_unknown_recall": "held-out<br>unknown recall",
    "heldout_engine_wer": "held-out-<br>engine WER",
    "energy_uj": "energy<br>(µJ)",
    "latency_ms": "latency<br>(ms)",
    "area_mm2": "area<br>(mm²)",
    "sram_used_kb": "SRAM used<br>(KB)",
    "cycles": "cycles",
}

#: hw.* parameters (ChipConfig fields) whose unit is in their name.
_PARAM_LABELS: dict[str, str] = {
    "hw.pes_per_core": "PEs<br>per core",
    "hw.weight_sram_kb_per_core": "weight SRAM<br>per core (KB)",
    "hw.state_sram_kb_per_core": "state SRAM<br>per core (KB)",
    "hw.clock_mhz": "clock<br>(MHz)",
    "hw.node_nm": "node<br>(nm)",
    "hw.graded_spike_bits": "graded<br>spike bits",
    "hw.neuron_units_per_core": "neuron units<br>per core",
}

#: Parameter groups of a design: prefix -> heading.
GROUPS: dict[str, str] = {"snn": "network", "hw": "chip"}
#: Prefix -> its group: a network's training parameters (``train.*``) are shown with it.
_GROUP_OF_PREFIX: dict[str, str] = {"snn": "snn", "train": "snn", "hw": "hw"}


def metric_label(name: str) -> str:
    """``energy_uj`` -> ``energy per inference (µJ)``; unknown names unchanged."""
    return METRIC_LABELS.get(name, name)


def short_metric_label(name: str) -> str:
    return SHORT_METRIC_LABELS.get(name, wrap(name.replace("_", " ")))


def group_of(name: str) -> str:
    """``snn.width`` -> ``snn`` (``train.learning_rate`` too: training is shown with the network);
    a name with no known prefix -> ``""``."""
    prefix = name.split(".", 1)[0] if "." in name else ""
    return _GROUP_OF_PREFIX.get(prefix, "")


def bare_name(name: str) -> str:
    """``snn.width`` -> ``width``."""
    return name.split(".", 1)[1] if group_of(name) else name


def param_label(name: str, log: bool = False) -> str:
    """A narrow axis label for a parameter: prefix dropped, words wrapped onto two lines."""
    text = _PARAM_LABELS.get(name) or wrap(bare_name(name).replace("_", " "))
    if not log:
        return text
    # searched on a log scale, drawn as log10: said on the label's last line, kept to two lines
    return f"log10<br>{text}" if "<br>" not in text else f"{text} (log10)"


def wrap(text: str, width: int = 11) -> str:
    """Break ``text`` at spaces into lines of about ``width`` characters (``<br>`` joined)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)
