"""eSpeak NG through ctypes: text + voice in, 16-bit samples out, reproducibly.

eSpeak NG keeps its state in C globals: it is not thread-safe, and its output for a text
depends slightly on what it spoke before (pitch flutter and noise generators run on across
calls; ``espeak_Terminate`` does not reset them). For a corpus that is identical whatever
order workers render it in, each :class:`ESpeak` loads its own private copy of the shared
library (fresh C globals), is used for one fixed block of utterances, and is closed.
Parallel generation uses processes, never threads.

Also owns which English voices the shipped voice data holds (:func:`available_voices`), which
the speakers draw from and the engine inventory reports.
"""

from __future__ import annotations

import _ctypes
import ctypes
import os
import shutil
import tempfile
import threading
from functools import cache
from pathlib import Path

import numpy as np

# speak_lib.h: espeak_AUDIO_OUTPUT.AUDIO_OUTPUT_SYNCHRONOUS
_AUDIO_OUTPUT_SYNCHRONOUS = 2
# speak_lib.h: espeak_PARAMETER
_ESPEAK_RATE = 1
_ESPEAK_VOLUME = 2
_ESPEAK_PITCH = 3
_ESPEAK_RANGE = 4
_ESPEAK_WORDGAP = 7
# speak_lib.h: espeak_POSITION_TYPE.POS_CHARACTER and the espeakCHARS_UTF8 flag
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
# speak_lib.h: espeak_ERROR.EE_OK
_EE_OK = 0

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


def data_path() -> Path:
    """The eSpeak NG voice data shipped with ``espeakng-loader``."""
    import espeakng_loader

    return Path(espeakng_loader.get_data_path())


#: English accents eSpeak NG may ship (``espeak-ng-data/lang/gmw``); those present are used.
ACCENT_CANDIDATES: tuple[str, ...] = (
    "en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan",
    "en-gb-x-gbcwmd", "en-us-nyc",
)  # fmt: skip

#: Voice variants (``espeak-ng-data/voices/!v``) that still sound like one human talker; the
#: robotic and novelty ones (robosoft*, UniRobot, Demonic, ...) are left out.
VARIANT_CANDIDATES: tuple[str, ...] = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5",
    "klatt", "klatt2", "klatt3", "croak", "whisper", "whisperf",
    "adam", "Alex", "Andy", "Annie", "aunty", "belinda", "benjamin", "boris", "david", "ed",
    "edward", "grandma", "grandpa", "ian", "john", "linda", "max", "michel", "norbert",
    "paul", "quincy", "rob", "robert", "shelby", "steph", "travis", "victor", "zac",
)  # fmt: skip


@cache
def available_voices() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (accents, variants) of the candidates that exist in the shipped voice data."""
    root = data_path()
    lang_files = {p.name.lower() for p in (root / "lang").rglob("*") if p.is_file()}
    accents = tuple(a for a in ACCENT_CANDIDATES if a in lang_files)
    variant_dir = root / "voices" / "!v"
    variants = tuple(v for v in VARIANT_CANDIDATES if (variant_dir / v).is_file())
    if not accents or not variants:
        raise RuntimeError(f"eSpeak NG data at {root} holds no English accents or voice variants")
    return accents, variants


class ESpeak:
    """A private, freshly initialised eSpeak NG in synchronous mode; a context manager.

    Args:
        seed: seeds eSpeak's noise generator (``espeak_ng_SetRandSeed``), so two instances
            made with the same seed speak the same sequence of texts identically.
    """

    def __init__(self, seed: int = 0) -> None:
        import espeakng_loader

        # A uniquely named copy makes dlopen map a new instance with its own C globals; the
        # file can go as soon as it is mapped.
        with tempfile.TemporaryDirectory(prefix="codesign-espeak-") as tmp:
            private = os.path.join(tmp, "libespeak-ng.so")
            shutil.copyfile(espeakng_loader.get_library_path(), private)
            lib = ctypes.CDLL(private, mode=os.RTLD_LOCAL)
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_Terminate.restype = ctypes.c_int
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_ng_SetRandSeed.restype = None
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_path()).encode(), 0)
        if rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed (returned {rate}) with data at {data_path()}")
        self.sample_rate_hz: int = rate
        self._lib = lib
        self._chunks: list[np.ndarray] = []
        self._lock = threading.Lock()
        # Keep a reference: ctypes frees the trampoline when the Python object dies.
        self._callback = _SynthCallback(self._collect)
        lib.espeak_SetSynthCallback(self._callback)
        lib.espeak_ng_SetRandSeed(seed % (2**31))
        self._closed = False

    def close(self) -> None:
        """Terminate and unmap this instance; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._lib.espeak_Terminate()
        _ctypes.dlclose(self._lib._handle)

    def __enter__(self) -> ESpeak:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _collect(self, wav: ctypes._Pointer[ctypes.c_short], n_samples: int, _events: int) -> int:
        if wav and n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        return 0  # 0: continue synthesis

    def synthesize(
        self, text: str, voice: str, rate_wpm: int, pitch: int, pitch_range: int, word_gap_10ms: int = 0
    ) -> np.ndarray:
        """Speak ``text`` with ``voice`` (``"en-us+f3"``) and return int16 samples at :attr:`sample_rate_hz`.

        Raises:
            ValueError: eSpeak does not know the voice.
            RuntimeError: synthesis failed or produced no audio.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("this eSpeak instance is closed")
            lib = self._lib
            if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise ValueError(f"eSpeak NG has no voice {voice!r}")
            for parameter, value in (
                (_ESPEAK_RATE, rate_wpm),
                (_ESPEAK_PITCH, pitch),
                (_ESPEAK_RANGE, pitch_range),
                (_ESPEAK_VOLUME, 100),
                (_ESPEAK_WORDGAP, word_gap_10ms),
            ):
                lib.espeak_SetParameter(parameter, value, 0)
            self._chunks = []
            encoded = text.encode("utf-8")
            status = lib.espeak_Synth(
                encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            lib.espeak_Synchronize()
            chunks, self._chunks = self._chunks, []
        if status != _EE_OK or not chunks:
            raise RuntimeError(f"eSpeak NG could not speak {text!r} with voice {voice!r} (status {status})")
        return np.concatenate(chunks)
