"""Echo guard: the assistant's own voice coming back through the user's microphone is not speech.

The server knows what the client's speaker plays: the answer's audio (`PlayedAudio`), and
where the play head is (`PlaybackClock`: paced by the server, corrected by the client's
`aura.playback.position`). `EchoReference` turns that into a reference signal on the
microphone's sample clock; `EchoGuard` compares each 10 ms of microphone audio with it.

The comparison works on band energies (16 bands, 200-4000 Hz), not waveforms, so that it holds
whatever the room does to the sound and whatever jitter the network adds to the alignment:

1. Learning the echo path: while the reference plays, the microphone's log band energies over
   the last 2 s are correlated with the reference's at every lag from -40 to 400 ms. A clear
   peak (correlation >= 0.5) gives the echo's delay, and the median energy ratio per band at
   that delay its gain (speaker volume, microphone, room colouring). A flat result over more
   than a second of playback means there is no echo (headphones, or the browser cancels it).
   Hops judged a person's speech are left out (double talk would bias the gain), and what
   was learnt is kept for the next answer (same device) while later searches correct it.
2. Per frame: the echo expected now is the reference around that delay (the loudest of the
   hops from 40 ms after it to 80 ms before it, the older ones faded as a room's
   reverberation fades) times the band gains, with 6 dB to spare. A frame
   whose energy is mostly above that is a person speaking; one that is mostly explained by it
   is echo, and is passed on as silence, so it neither starts a turn nor barges in. So is
   a frame too quiet to be a person at the microphone (a reverberation tail): WebRTC's VAD
   calls even faint speech-like sound speech.
   Before the path is known, the expected echo is the loudest reference of the last 450 ms at
   its own level: a person must speak louder than the assistant's audio to barge in then.
   A client whose capture cancels echo (the widget: a browser's echo cancellation) says so
   (`?aec=1`), and the guard starts as if it had found no echo: an echo that gets through
   the browser's canceller is still found by the searches, after ~0.5 s of playback.

Cost, on the event loop: two 512-point FFTs per 10 ms hop while an answer plays or echoes
(~80 us per hop, bench/noise.py), plus one vectorised lag search every 250 ms (~1 ms on an
idle core); ~2 us per hop while the assistant is silent.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from voice.engine.audio.resample import resample
from voice.engine.config import PIPELINE_RATE_HZ

Audio = npt.NDArray[np.int16]
Floats = npt.NDArray[np.float64]

HOP_SAMPLES = PIPELINE_RATE_HZ // 100  # 10 ms
WINDOW_SAMPLES = 512
BAND_EDGES_HZ = np.geomspace(200, 4_000, 17)
# Lags searched for the echo's delay, in hops: the reference may lag the microphone a little
# (the play head is a model), the echo may lag it by the network and the sound card.
MIN_LAG_HOPS = -4
MAX_LAG_HOPS = 40
HISTORY_HOPS = 200
_LAGS = np.arange(MIN_LAG_HOPS, MAX_LAG_HOPS + 1)
SEARCH_EVERY_HOPS = 25
# Reverberation: the echo of a sound lasts after it; the loudest of these hops is expected.
REVERB_HOPS = 8
# The play head is known to within a few tens of ms (the client's chunking, its reports'
# age): a sound may echo this much earlier than the learnt delay says.
ALIGNMENT_SLACK_HOPS = 4
# A room's reverberation fades ~60 dB in 0.4 s: 1.5 dB per hop.
REVERB_DECAY_DB_PER_HOP = 1.5
# Weights of the reference hops that may sound now, oldest first (see `_expected_echo`).
_ECHO_WEIGHTS = np.concatenate(
    [
        10 ** (-REVERB_DECAY_DB_PER_HOP * np.arange(REVERB_HOPS, 0, -1) / 10),
        np.ones(ALIGNMENT_SLACK_HOPS + 1),
    ]
)
ECHO_FOUND_CORRELATION = 0.5
NO_ECHO_CORRELATION = 0.25
MIN_ACTIVE_HOPS = 50
NO_ECHO_AFTER_HOPS = 100
MARGIN_POWER = 4.0  # 6 dB: the expected echo's level is an estimate
# A frame is speech when more than this share of its energy is above the expected echo.
SPEECH_SHARE = 0.5
# Band power (see `_band_powers`) of noise at an RMS of ~30: quieter is silence.
POWER_FLOOR = 1e3

EchoState = Literal["unknown", "found", "none"]


def _band_matrix() -> Floats:
    frequencies_hz = np.fft.rfftfreq(WINDOW_SAMPLES, 1 / PIPELINE_RATE_HZ)
    bands = np.zeros((len(frequencies_hz), len(BAND_EDGES_HZ) - 1))
    for index, (low, high) in enumerate(itertools.pairwise(BAND_EDGES_HZ)):
        in_band = (frequencies_hz >= low) & (frequencies_hz < high)
        bands[in_band, index] = 1.0 / max(1, int(in_band.sum()))
    return bands


_BANDS = _band_matrix()
_WINDOW = np.hanning(WINDOW_SAMPLES)


def _band_powers(window: Floats) -> Floats:
    """Mean power per band of the last `WINDOW_SAMPLES` samples (int16 scale)."""
    spectrum = np.fft.rfft(window * _WINDOW)
    powers: Floats = (np.abs(spectrum) ** 2 / WINDOW_SAMPLES) @ _BANDS
    return powers


class PlayedAudio:
    """An output item's audio at 16 kHz: what the client's speaker plays for it."""

    def __init__(self) -> None:
        self._data = bytearray()

    def append(self, pcm: Audio, rate_hz: int) -> None:
        chunk = resample(pcm, rate_hz, PIPELINE_RATE_HZ) if rate_hz != PIPELINE_RATE_HZ else pcm
        self._data += chunk.astype("<i2").tobytes()

    def ending_at(self, position_ms: float, count: int) -> Audio:
        """The `count` samples that end at `position_ms` (zeros before the item's start)."""
        end = max(0, min(len(self._data) // 2, round(position_ms * PIPELINE_RATE_HZ / 1000)))
        start = max(0, end - count)
        segment = np.frombuffer(self._data[2 * start : 2 * end], dtype="<i2").astype(np.int16)
        if len(segment) < count:
            segment = np.concatenate([np.zeros(count - len(segment), dtype=np.int16), segment])
        return segment


@dataclass(slots=True)
class _Source:
    audio: PlayedAudio
    heard_ms: Callable[[], float]
    last_heard_ms: float = 0.0


class EchoReference:
    """What the client's speaker plays, as 16 kHz samples on the microphone's clock.

    Each microphone chunk that arrives is matched with the audio that ends at the play head
    now; the guard's lag search absorbs the constant part of the misalignment (uplink delay,
    sound card), and its per-frame test the jitter.
    """

    def __init__(self, sources_kept: int = 2, *, client_cancels_echo: bool = False) -> None:
        self._sources: list[_Source] = []
        self._kept = sources_kept
        # The client says its capture cancels echo (a browser's getUserMedia with
        # echoCancellation): the guard believes it until it hears otherwise.
        self.client_cancels_echo = client_cancels_echo

    def playing(self, audio: PlayedAudio, heard_ms: Callable[[], float]) -> None:
        """A new output item: its audio and its play head (`PlaybackClock.heard_ms`)."""
        self._sources.append(_Source(audio, heard_ms))
        del self._sources[: -self._kept]

    def samples_for(self, count: int) -> Audio | None:
        """The reference for the next `count` microphone samples; None when nothing plays."""
        reference: Audio | None = None
        for source in self._sources:
            heard_ms = source.heard_ms()
            advanced = heard_ms > source.last_heard_ms
            source.last_heard_ms = heard_ms
            if not advanced:
                continue
            segment = source.audio.ending_at(heard_ms, count)
            reference = segment if reference is None else reference + segment
        return reference


class EchoGuard:
    """Silences the microphone's echo of the reference; passes people's speech through."""

    def __init__(self, *, assume_no_echo: bool = False) -> None:
        self._mic_window: Floats = np.zeros(WINDOW_SAMPLES)
        self._ref_window: Floats = np.zeros(WINDOW_SAMPLES)
        rows = HISTORY_HOPS + MAX_LAG_HOPS + REVERB_HOPS
        self._mic_log = np.zeros((rows, len(BAND_EDGES_HZ) - 1))
        self._ref_log = np.full((rows, len(BAND_EDGES_HZ) - 1), np.log10(POWER_FLOOR))
        self._ref_active = np.zeros(rows, dtype=bool)
        # Hops judged a person's speech: left out of the echo path's estimate (double talk).
        self._speech = np.zeros(rows, dtype=bool)
        self._mic_power = np.zeros((rows, len(BAND_EDGES_HZ) - 1))
        self._ref_power = np.zeros((rows, len(BAND_EDGES_HZ) - 1))
        self._hops_since_reference = rows
        self._hops_since_search = 0
        self._active_hops = 0
        # Unknown, the guard is cautious: a person must be louder than the answer itself to
        # count, which loses the words of one who is not. A client that cancels echo starts
        # believed; the lag searches still run and find an echo that gets through.
        self.state: EchoState = "none" if assume_no_echo else "unknown"
        self.lag_hops = 0
        self._log_gain = np.zeros(len(BAND_EDGES_HZ) - 1)
        self.echo_hops = 0

    def process(self, mic: Audio, reference: Audio | None) -> Audio:
        """Return `mic` with its echo-only 10 ms hops silenced (whole hops only, in order).

        `reference` holds as many samples as `mic` (or None: nothing plays). The caller feeds
        whole hops; a trailing partial hop is passed through unchanged.
        """
        out = mic.copy()
        for start in range(0, len(mic) - HOP_SAMPLES + 1, HOP_SAMPLES):
            hop = mic[start : start + HOP_SAMPLES]
            ref_hop = None if reference is None else reference[start : start + HOP_SAMPLES]
            if self._is_echo(hop, ref_hop):
                out[start : start + HOP_SAMPLES] = 0
        return out

    @property
    def idle(self) -> bool:
        """No reference has played for long enough that no echo of it can remain."""
        return self._hops_since_reference > MAX_LAG_HOPS + REVERB_HOPS

    def _is_echo(self, hop: Audio, ref_hop: Audio | None) -> bool:
        if (ref_hop is None or not ref_hop.any()) and self.idle:
            # Nothing plays nor echoes: only the microphone's window needs to move on.
            self._mic_window = np.concatenate([self._mic_window[HOP_SAMPLES:], hop])
            self._ref_window[:] = 0.0
            self._hops_since_reference += 1
            # What was learnt of the echo path holds for the next answer (same device); the
            # searches while it plays correct it if the device changed.
            return False
        self._push(hop, ref_hop)
        self._hops_since_search += 1
        if self._hops_since_search >= SEARCH_EVERY_HOPS:
            self._hops_since_search = 0
            self._search_echo_path()
        if self.state == "none":
            return False
        mic_power = self._mic_power[-1]
        total = float(mic_power.sum())
        expected = self._expected_echo()
        above = np.maximum(0.0, mic_power - expected).sum()
        # A frame this quiet while the answer plays is its faint echo (a reverberation tail),
        # never a person at the microphone; the VAD would still call it speech.
        echo = total < POWER_FLOOR * len(mic_power) or above / total < SPEECH_SHARE
        self.echo_hops += int(echo)
        self._speech[-1] = not echo
        return bool(echo)

    def _push(self, hop: Audio, ref_hop: Audio | None) -> None:
        self._mic_window = np.concatenate([self._mic_window[HOP_SAMPLES:], hop])
        ref_samples = np.zeros(HOP_SAMPLES) if ref_hop is None else ref_hop
        self._ref_window = np.concatenate([self._ref_window[HOP_SAMPLES:], ref_samples])
        ref_power = _band_powers(self._ref_window)
        mic_power = _band_powers(self._mic_window)
        active = float(ref_power.sum()) >= POWER_FLOOR * len(ref_power)
        self._hops_since_reference = 0 if active else self._hops_since_reference + 1
        self._active_hops += int(active)
        for history, row in (
            (self._mic_power, mic_power),
            (self._ref_power, ref_power),
            (self._mic_log, np.log10(mic_power + POWER_FLOOR)),
            (self._ref_log, np.log10(ref_power + POWER_FLOOR)),
        ):
            history[:-1] = history[1:]
            history[-1] = row
        self._ref_active[:-1] = self._ref_active[1:]
        self._ref_active[-1] = active
        self._speech[:-1] = self._speech[1:]
        self._speech[-1] = False

    def _expected_echo(self) -> Floats:
        if self.state == "found":
            # Hops of the reference that may sound now: from REVERB_HOPS before the learnt
            # delay (fading as a room's reverberation does) to ALIGNMENT_SLACK_HOPS after it.
            # (With a delay shorter than the slack, the latest hops are all there is.)
            start = len(self._ref_power) - self.lag_hops + ALIGNMENT_SLACK_HOPS
            start -= len(_ECHO_WEIGHTS)
            recent = self._ref_power[start : start + len(_ECHO_WEIGHTS)]
            weights = _ECHO_WEIGHTS[: len(recent), None]
            gain = np.power(10.0, self._log_gain)
            expected: Floats = (recent * weights).max(axis=0) * gain * MARGIN_POWER
            return expected
        recent = self._ref_power[-(MAX_LAG_HOPS + REVERB_HOPS) :]
        unknown_path: Floats = recent.max(axis=0)
        return unknown_path

    def _search_echo_path(self) -> None:
        """Find the lag at which the microphone follows the reference, and the path's gain.

        All lags at once (one array of lag x hop x band), so a search costs ~1 ms of numpy
        rather than a Python loop per lag. The microphone's window ends `-MIN_LAG_HOPS` hops
        back, so that negative lags find their reference in the history too.
        """
        if self._active_hops < MIN_ACTIVE_HOPS:
            return
        rows, bands = self._mic_log.shape
        mic_end = rows + MIN_LAG_HOPS
        mic = self._mic_log[mic_end - HISTORY_HOPS : mic_end]
        usable = self._mic_power[mic_end - HISTORY_HOPS : mic_end].sum(axis=1) >= (
            POWER_FLOOR * bands
        )
        usable &= ~self._speech[mic_end - HISTORY_HOPS : mic_end]
        starts = mic_end - HISTORY_HOPS - _LAGS
        refs = sliding_window_view(self._ref_log, HISTORY_HOPS, axis=0)[starts].transpose(0, 2, 1)
        active = sliding_window_view(self._ref_active, HISTORY_HOPS)[starts] & usable
        correlations = _correlations(mic, refs, active)
        best = int(np.argmax(correlations))
        if correlations[best] >= ECHO_FOUND_CORRELATION:
            self.state, self.lag_hops = "found", max(int(_LAGS[best]), 0)
            pairs = active[best]
            self._log_gain = np.median(mic[pairs] - refs[best][pairs], axis=0)
        elif correlations[best] < NO_ECHO_CORRELATION and self._active_hops >= NO_ECHO_AFTER_HOPS:
            self.state = "none"


def _correlations(mic: Floats, refs: Floats, active: npt.NDArray[np.bool_]) -> Floats:
    """Per lag: Pearson correlation of the microphone's and the reference's log band energies
    over the hops `active` marks, each band's mean removed (which absorbs the path's gain)."""
    weights = active[:, :, None].astype(np.float64)
    counts = weights.sum(axis=1)
    enough = counts[:, 0] >= MIN_ACTIVE_HOPS // 2
    counts = np.maximum(counts, 1.0)
    mic_centred = (
        mic[None] - (weights * mic[None]).sum(axis=1, keepdims=True) / counts[:, None]
    ) * weights
    ref_centred = (refs - (weights * refs).sum(axis=1, keepdims=True) / counts[:, None]) * weights
    covariance = (mic_centred * ref_centred).sum(axis=(1, 2))
    spread = np.sqrt((mic_centred**2).sum(axis=(1, 2)) * (ref_centred**2).sum(axis=(1, 2)))
    correlations: Floats = np.where(
        enough & (spread > 0), covariance / np.where(spread > 0, spread, 1.0), 0.0
    )
    return correlations
