"""Speech synthesis engines: which are installed, their English voices, and batch synthesis with flite and festival.

eSpeak NG (through ``espeakng_loader``, see :mod:`codesign.data._espeak`) is always present.
flite and festival come from Debian (``make engines`` installs them where it can). flite runs
in process through ``libflite`` (ctypes); festival runs as one fresh process per shard of
utterances. Neither keeps state from one text to the next, so an utterance's audio depends
only on its voice, rate and text, never on which worker renders which shard. eSpeak NG's MBROLA voices
need the ``mbrola`` program and voice data, which Debian bookworm does not package: the
``espeak-mbrola`` engine is therefore reported missing unless ``mbrola`` is on the PATH.

Runs inside generation worker processes, so it imports the standard library and numpy only.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

#: Every engine a corpus config may name, in a fixed order.
ENGINES: tuple[str, ...] = ("espeak", "flite", "festival", "espeak-mbrola")

#: flite's English voices that sound like one human talker (``flite -lv``; ``awb_time`` speaks
#: only times of day and is left out).
FLITE_VOICES: tuple[str, ...] = ("kal", "kal16", "awb", "rms", "slt")
#: Where Debian's festival voice packages put English voices, and the voices looked for there
#: (``festvox-kallpc16k``, ``festvox-kdlpc16k``, ``festvox-us-slt-hts``; the ``cmu_us_*`` ones where installed).
FESTIVAL_VOICE_DIRS: tuple[str, ...] = ("/usr/share/festival/voices/english", "/usr/share/festival/voices/us")
FESTIVAL_VOICES: tuple[str, ...] = (
    "kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts", "cmu_us_awb_arctic_clunits",
    "cmu_us_bdl_arctic_hts", "cmu_us_jmk_arctic_hts", "cmu_us_rms_arctic_clunits",
)  # fmt: skip
#: eSpeak NG's English MBROLA voices (``mb-en1``, ``mb-us1..3``), usable only with ``mbrola``.
MBROLA_VOICES: tuple[str, ...] = ("mb-en1", "mb-us1", "mb-us2", "mb-us3")
#: The speaking rate each engine's ``rate_wpm`` is relative to: a speaker at ``rate_wpm`` gets a
#: duration stretch of ``NOMINAL_WPM / rate_wpm`` in flite and festival.
NOMINAL_WPM = 170
#: Debian's flite library (package libflite1); voices are ``libflite_cmu_us_<voice>.so.1``.
FLITE_LIBRARY = "libflite.so.1"
#: Seconds a festival process may take for one shard before the corpus fails.
_PROCESS_TIMEOUT_S = 600


@dataclass(frozen=True)
class EngineStatus:
    """One engine on this machine: its voices, or why it cannot be used."""

    name: str
    voices: tuple[str, ...]
    version: str
    missing_reason: str | None = None

    @property
    def available(self) -> bool:
        return self.missing_reason is None and bool(self.voices)


@cache
def engine_status(name: str) -> EngineStatus:
    """Probe one engine (cached per process): installed voices and version, or the reason it is missing."""
    probe = _PROBES.get(name)
    if probe is None:
        raise ValueError(f"unknown engine {name!r}; engines are {', '.join(ENGINES)}")
    return probe()


def _espeak_status() -> EngineStatus:
    from codesign.data._espeak import available_voices

    accents, variants = available_voices()
    import espeakng_loader

    version = getattr(espeakng_loader, "__version__", "") or _distribution_version("espeakng-loader")
    return EngineStatus(
        "espeak", tuple(f"{a}+{v}" for a in accents for v in variants), f"espeakng-loader {version}"
    )


def _flite_status() -> EngineStatus:
    try:
        _flite()
    except OSError:
        return EngineStatus(
            "flite",
            (),
            "",
            f"{FLITE_LIBRARY} is not installed (Debian packages flite, libflite1; make engines)",
        )
    voices = tuple(v for v in FLITE_VOICES if _flite_loads(v))
    version = f"libflite1 {_debian_version('libflite1')}"
    missing = None if voices else f"libflite has none of the voices {', '.join(FLITE_VOICES)}"
    return EngineStatus("flite", voices, version, missing)


def _festival_status() -> EngineStatus:
    binary = shutil.which("festival")
    if binary is None:
        return EngineStatus(
            "festival",
            (),
            "",
            "the festival program is not installed (Debian packages festival, festvox-*; make engines)",
        )
    present = {p.name for d in FESTIVAL_VOICE_DIRS if Path(d).is_dir() for p in Path(d).iterdir()}
    voices = tuple(v for v in FESTIVAL_VOICES if v in present)
    version = _run([binary, "--version"]).strip().splitlines()[0] if voices else ""
    return EngineStatus(
        "festival",
        voices,
        version,
        None if voices else "festival has no English voice (Debian package festvox-kallpc16k)",
    )


def _mbrola_status() -> EngineStatus:
    if shutil.which("mbrola") is None:
        return EngineStatus(
            "espeak-mbrola", (), "", "the mbrola program is not installed (Debian bookworm has no mbrola package)"
        )
    return EngineStatus("espeak-mbrola", (), "", "MBROLA voices through espeakng_loader are not supported yet")


#: How each engine is probed (one entry per engine of :data:`ENGINES`).
_PROBES: dict[str, Callable[[], EngineStatus]] = {
    "espeak": _espeak_status,
    "flite": _flite_status,
    "festival": _festival_status,
    "espeak-mbrola": _mbrola_status,
}


def engine_inventory(names: Sequence[str]) -> dict[str, dict[str, object]]:
    """What a corpus using ``names`` would find: per engine its version and voices, or why it is missing."""
    out: dict[str, dict[str, object]] = {}
    for name in names:
        status = engine_status(name)
        out[name] = {"available": status.available, "version": status.version, "voices": list(status.voices)}
        if not status.available:
            out[name]["missing_reason"] = status.missing_reason
    return out


def _debian_version(package: str) -> str:
    """A Debian package's version from dpkg's status file, or ``unknown``."""
    try:
        text = Path("/var/lib/dpkg/status").read_text(errors="replace")
    except OSError:
        return "unknown"
    for block in text.split("\n\n"):
        if block.startswith(f"Package: {package}\n"):
            for line in block.splitlines():
                if line.startswith("Version: "):
                    return line.split(" ", 1)[1]
    return "unknown"


def _distribution_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def _run(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout + done.stderr


@dataclass(frozen=True)
class SynthesisRequest:
    """One text to say with one engine's voice at one rate; ``key`` identifies it in the result."""

    key: int
    voice: str
    rate_wpm: int
    text: str


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A 16-bit mono (or first channel) WAV file as float64 in [-1, 1] and its sample rate."""
    with wave.open(str(path), "rb") as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise RuntimeError(f"{path}: expected 16-bit samples, got {8 * width}-bit")
    samples = np.frombuffer(raw, dtype="<i2").reshape(-1, channels)[:, 0]
    return samples.astype(np.float64) / 32768.0, rate


class _FliteWave(ctypes.Structure):
    """flite's ``cst_wave`` (cst_wave.h)."""

    _fields_ = [
        ("type", ctypes.c_char_p),
        ("sample_rate", ctypes.c_int),
        ("num_samples", ctypes.c_int),
        ("num_channels", ctypes.c_int),
        ("samples", ctypes.POINTER(ctypes.c_short)),
    ]


class _FliteVoice(ctypes.Structure):
    """The head of flite's ``cst_voice`` (cst_voice.h): its name and feature set."""

    _fields_ = [("name", ctypes.c_char_p), ("features", ctypes.c_void_p)]


@cache
def _flite() -> ctypes.CDLL:
    """Debian's libflite, initialised once per process (flite keeps no state between texts)."""
    lib = ctypes.CDLL(FLITE_LIBRARY)
    lib.flite_init()
    lib.flite_text_to_wave.restype = ctypes.POINTER(_FliteWave)
    lib.flite_text_to_wave.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.feat_set_float.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_float]
    lib.feat_set_float.restype = None
    lib.delete_wave.argtypes = [ctypes.POINTER(_FliteWave)]
    lib.delete_wave.restype = None
    return lib


@cache
def _flite_voice(name: str) -> ctypes._Pointer[_FliteVoice]:
    """A registered flite voice (``libflite_cmu_us_<name>.so.1``), once per process."""
    _flite()
    voice_lib = ctypes.CDLL(f"libflite_cmu_us_{name}.so.1")
    register = getattr(voice_lib, f"register_cmu_us_{name}")
    register.restype = ctypes.POINTER(_FliteVoice)
    register.argtypes = [ctypes.c_char_p]
    voice: ctypes._Pointer[_FliteVoice] = register(None)
    if not voice:
        raise RuntimeError(f"flite could not register voice {name}")
    _voice_libraries.append(voice_lib)
    return voice


_voice_libraries: list[ctypes.CDLL] = []


@cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None)
    libc.srand.argtypes = [ctypes.c_uint]
    libc.srand.restype = None
    return libc


def _flite_loads(voice: str) -> bool:
    try:
        _flite_voice(voice)
    except (OSError, AttributeError, RuntimeError):
        return False
    return True


def synthesize_flite(requests: Sequence[SynthesisRequest]) -> dict[int, tuple[np.ndarray, int]]:
    """Speak each request with Debian's libflite, in this process; ``key -> (audio, rate)``.

    flite keeps no state between texts (its duration stretch is set before each one), so
    a text sounds the same whatever was said before it (its clunit voices' use of libc's
    ``rand`` is reseeded per text).
    """
    lib = _flite()
    out: dict[int, tuple[np.ndarray, int]] = {}
    for r in requests:
        voice = _flite_voice(r.voice)
        # flite's unit-selection voices draw from libc's rand(): reseed it as a fresh flite
        # process starts (glibc's default seed 1), so history never changes a text's audio.
        _libc().srand(1)
        lib.feat_set_float(voice.contents.features, b"duration_stretch", NOMINAL_WPM / r.rate_wpm)
        wave_ptr = lib.flite_text_to_wave(r.text.encode("utf-8"), ctypes.cast(voice, ctypes.c_void_p))
        if not wave_ptr or wave_ptr.contents.num_samples <= 0:
            raise RuntimeError(f"flite could not speak {r.text!r} with voice {r.voice}")
        w = wave_ptr.contents
        samples = np.ctypeslib.as_array(w.samples, shape=(w.num_samples * w.num_channels,))
        audio = samples[:: w.num_channels].astype(np.float64) / 32768.0
        out[r.key] = (audio, int(w.sample_rate))
        lib.delete_wave(wave_ptr)
    return out


def _festival_script(requests: Sequence[SynthesisRequest], folder: Path) -> list[str]:
    """The festival batch script's lines: per voice, each request's text saved as
    ``<folder>/<key>.wav`` at its rate."""
    lines = []
    for voice in sorted({r.voice for r in requests}):
        lines.append(f"(voice_{voice})")
        for r in (r for r in requests if r.voice == voice):
            text = r.text.replace("\\", " ").replace('"', " ")
            stretch = NOMINAL_WPM / r.rate_wpm
            lines.append(f"(Parameter.set 'Duration_Stretch {stretch:.4f})")
            lines.append(f'(utt.save.wave (SynthText "{text}") "{folder / f"{r.key}.wav"}" \'riff)')
    return lines


def synthesize_festival(requests: Sequence[SynthesisRequest]) -> dict[int, tuple[np.ndarray, int]]:
    """Speak the requests with one festival process (a batch script, grouped by voice); ``key -> (audio, rate)``."""
    binary = shutil.which("festival")
    if binary is None:
        raise RuntimeError(engine_status("festival").missing_reason)
    if not requests:
        return {}
    with tempfile.TemporaryDirectory(prefix="codesign-festival-") as tmp:
        script = Path(tmp) / "shard.scm"
        script.write_text("\n".join(_festival_script(requests, Path(tmp))) + "\n")
        done = subprocess.run(
            [binary, "--batch", str(script)],
            capture_output=True,
            text=True,
            timeout=_PROCESS_TIMEOUT_S,
            check=False,
        )
        out: dict[int, tuple[np.ndarray, int]] = {}
        for r in requests:
            path = Path(tmp) / f"{r.key}.wav"
            if not path.is_file():
                raise RuntimeError(
                    f"festival could not speak {r.text!r} with voice {r.voice} (exit {done.returncode}): "
                    f"{done.stderr.strip()[-500:]}"
                )
            out[r.key] = read_wav(path)
    return out
