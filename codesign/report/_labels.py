"""Names people read in the report: metrics with their physical meaning and unit (declared
with each metric in the registry, ``codesign.search.Metric``), parameters without their group
prefix (the panel or hover section names the group), wrapped so that axis labels stay narrow."""

from __future__ import annotations

from codesign.search import metric_named

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
    """``energy_uj`` -> ``energy per inference (µJ)``: the metric registry's label
    (``codesign.search.Metric.label``); an unregistered name unchanged."""
    metric = metric_named(name)
    return metric.label if metric is not None else name


def short_metric_label(name: str) -> str:
    """The registry's narrow axis label (``energy<br>(µJ)``), else the name wrapped."""
    metric = metric_named(name)
    return metric.short if metric is not None and metric.short else wrap(name.replace("_", " "))


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
