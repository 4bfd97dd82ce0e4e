"""Echo guard: the assistant's own voice coming back through the user's microphone is not speech.

The server knows what the client's speaker plays: the answer's audio (`PlayedAudio`), and
where the play head is (`PlaybackClock`: paced by the server, corrected by the client's
`aura.playback.position`). `EchoReference` (echo_reference.py) turns that into a reference
signal on the microphone's sample clock; `EchoGuard` compares each 10 ms of microphone audio
with it.

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

Cost, on the event loop, while an answer plays or echoes: two 512-point FFTs per 10 ms hop,
computed for a whole chunk's hops in one call, plus one vectorised lag search every 250 ms
(skipped while the microphone is silent). bench/echo_guard.py, 2 cores, 2026-11-30: 2-8 ms
of CPU per second of an answer playing with 100 ms chunks, 4-11 ms with 20 ms ones (18-24 ms
when each hop was analysed alone); one call's median 70-430 us, p95 1.0-1.6 ms (a chunk with
a lag search); 0.05-0.3 ms per audio second while nothing plays.
"""

from __future__ import annotations

import itertools
from typing import Literal

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

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
# Hops (playing and heard) a lag's correlation needs to count at all.
MIN_PAIRED_HOPS = MIN_ACTIVE_HOPS // 2
NO_ECHO_AFTER_HOPS = 100
MARGIN_POWER = 4.0  # 6 dB: the expected echo's level is an estimate
# A frame is speech when more than this share of its energy is above the expected echo.
SPEECH_SHARE = 0.5
# Band power (see `_band_powers`) of noise at an RMS of ~30: quieter is silence.
POWER_FLOOR = 1e3
# Hops analysed together (a client's chunk is usually 2-10 of them).
BATCH_HOPS = 32

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


def _band_powers(windows: Floats) -> Floats:
    """Mean power per band of each row's `WINDOW_SAMPLES` samples (int16 scale)."""
    spectrum = np.fft.rfft(windows * _WINDOW, axis=-1)
    powers: Floats = (spectrum.real**2 + spectrum.imag**2) / WINDOW_SAMPLES @ _BANDS
    return powers


class EchoGuard:
    """Silences the microphone's echo of the reference; passes people's speech through.

    A chunk's hops are analysed together (one FFT call per signal per chunk, one shift of the
    histories), then judged one by one in order: the same judgements as hop by hop, at a
    fraction of the event loop's time (numpy's per-call overhead dominates 10 ms hops).
    """

    def __init__(self, *, assume_no_echo: bool = False) -> None:
        self._mic_window: Floats = np.zeros(WINDOW_SAMPLES)
        self._ref_window: Floats = np.zeros(WINDOW_SAMPLES)
        # The histories hold one batch more than a search reads, so that a search in the
        # middle of a batch sees the same HISTORY_HOPS + lags as one at its end.
        rows = HISTORY_HOPS + MAX_LAG_HOPS + REVERB_HOPS + BATCH_HOPS
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
        done = 0
        whole = len(mic) - len(mic) % HOP_SAMPLES
        if reference is None and self.idle:
            # The common case between answers: nothing plays nor echoes.
            self._skip_idle(mic[:whole])
            return out
        while done < whole:
            end = min(whole, done + BATCH_HOPS * HOP_SAMPLES)
            ref = None if reference is None else reference[done:end]
            done += self._process_batch(mic[done:end], ref, out[done:end])
        return out

    @property
    def idle(self) -> bool:
        """No reference has played for long enough that no echo of it can remain."""
        return self._hops_since_reference > MAX_LAG_HOPS + REVERB_HOPS

    def _process_batch(self, mic: Audio, reference: Audio | None, out: Audio) -> int:
        """Judge the leading hops of `mic` (at most BATCH_HOPS) and silence echo in `out`;
        the number of samples judged."""
        hops = len(mic) // HOP_SAMPLES
        ref_hops = (
            np.zeros((hops, HOP_SAMPLES))
            if reference is None
            else reference.reshape(hops, HOP_SAMPLES)
        )
        ref_playing: npt.NDArray[np.bool_] = np.count_nonzero(ref_hops, axis=1) > 0
        if not ref_playing[0] and self.idle:
            # Nothing plays nor echoes: only the microphone's window needs to move on.
            # What was learnt of the echo path holds for the next answer (same device); the
            # searches while it plays correct it if the device changed.
            quiet = hops if not ref_playing.any() else int(np.argmax(ref_playing))
            self._skip_idle(mic[: quiet * HOP_SAMPLES])
            return quiet * HOP_SAMPLES
        mic_windows = _windows(self._mic_window, mic)
        ref_windows = _windows(self._ref_window, ref_hops.reshape(-1))
        # One FFT call for both signals: per-call overhead is most of the cost of a few hops.
        powers = _band_powers(np.concatenate([mic_windows, ref_windows]))
        mic_powers, ref_powers = powers[:hops], powers[hops:]
        active = ref_powers.sum(axis=1) >= POWER_FLOOR * ref_powers.shape[1]
        # The batch ends before the first hop at which the guard falls idle (playback over
        # for long enough): from there on it goes the idle way above.
        hops = self._hops_before_idle(ref_playing, active)
        self._mic_window = mic_windows[hops - 1]
        self._ref_window = ref_windows[hops - 1]
        self._push(mic_powers[:hops], ref_powers[:hops], active[:hops])
        rows = len(self._speech)
        for index in range(hops):
            end = rows - hops + index + 1
            if self._is_echo(end, bool(active[index])):
                out[index * HOP_SAMPLES : (index + 1) * HOP_SAMPLES] = 0
        return hops * HOP_SAMPLES

    def _skip_idle(self, mic: Audio) -> None:
        """Whole hops while idle: only the microphone's window needs to move on."""
        self._mic_window = _slide(self._mic_window, mic)
        self._ref_window[:] = 0.0
        self._hops_since_reference += len(mic) // HOP_SAMPLES

    def _hops_before_idle(
        self, ref_playing: npt.NDArray[np.bool_], active: npt.NDArray[np.bool_]
    ) -> int:
        since = self._hops_since_reference
        for index, (playing, sounding) in enumerate(zip(ref_playing, active, strict=True)):
            if not playing and since > MAX_LAG_HOPS + REVERB_HOPS:
                return index
            since = 0 if sounding else since + 1
        return len(active)

    def _push(self, mic_powers: Floats, ref_powers: Floats, active: npt.NDArray[np.bool_]) -> None:
        hops = len(active)
        for history, rows in (
            (self._mic_power, mic_powers),
            (self._ref_power, ref_powers),
            (self._mic_log, np.log10(mic_powers + POWER_FLOOR)),
            (self._ref_log, np.log10(ref_powers + POWER_FLOOR)),
            (self._ref_active, active),
            (self._speech, np.zeros(hops, dtype=bool)),
        ):
            history[:-hops] = history[hops:]
            history[-hops:] = rows

    def _is_echo(self, end: int, active: bool) -> bool:
        """The judgement of the hop whose history rows end at `end` (exclusive)."""
        self._hops_since_reference = 0 if active else self._hops_since_reference + 1
        self._active_hops += int(active)
        self._hops_since_search += 1
        if self._hops_since_search >= SEARCH_EVERY_HOPS:
            self._hops_since_search = 0
            self._search_echo_path(end)
        if self.state == "none":
            return False
        mic_power = self._mic_power[end - 1]
        total = float(mic_power.sum())
        expected = self._expected_echo(end)
        above = np.maximum(0.0, mic_power - expected).sum()
        # A frame this quiet while the answer plays is its faint echo (a reverberation tail),
        # never a person at the microphone; the VAD would still call it speech.
        echo = total < POWER_FLOOR * len(mic_power) or above / total < SPEECH_SHARE
        self.echo_hops += int(echo)
        self._speech[end - 1] = not echo
        return bool(echo)

    def _expected_echo(self, end: int) -> Floats:
        if self.state == "found":
            # Hops of the reference that may sound now: from REVERB_HOPS before the learnt
            # delay (fading as a room's reverberation does) to ALIGNMENT_SLACK_HOPS after it.
            # (With a delay shorter than the slack, the latest hops are all there is.)
            start = end - self.lag_hops + ALIGNMENT_SLACK_HOPS - len(_ECHO_WEIGHTS)
            recent = self._ref_power[start : min(end, start + len(_ECHO_WEIGHTS))]
            weights = _ECHO_WEIGHTS[: len(recent), None]
            gain = np.power(10.0, self._log_gain)
            expected: Floats = (recent * weights).max(axis=0) * gain * MARGIN_POWER
            return expected
        recent = self._ref_power[end - (MAX_LAG_HOPS + REVERB_HOPS) : end]
        unknown_path: Floats = recent.max(axis=0)
        return unknown_path

    def _search_echo_path(self, end: int) -> None:
        """Find the lag at which the microphone follows the reference, and the path's gain.

        All lags at once (one array of lag x hop x band), so a search costs well under 1 ms of
        numpy rather than a Python loop per lag. The microphone's window ends `-MIN_LAG_HOPS`
        hops before `end`, so that negative lags find their reference in the history too.
        """
        if self._active_hops < MIN_ACTIVE_HOPS:
            return
        bands = self._mic_log.shape[1]
        mic_end = end + MIN_LAG_HOPS
        window = slice(mic_end - HISTORY_HOPS, mic_end)
        usable = self._mic_power[window].sum(axis=1) >= POWER_FLOOR * bands
        usable &= ~self._speech[window]
        correlations = np.zeros(len(_LAGS))
        if usable.sum() >= MIN_PAIRED_HOPS:
            # (Fewer usable hops than a correlation needs: every lag correlates 0.)
            mic = self._mic_log[window]
            starts = mic_end - HISTORY_HOPS - _LAGS
            refs = sliding_window_view(self._ref_log, HISTORY_HOPS, axis=0)[starts]
            refs = refs.transpose(0, 2, 1)
            active = sliding_window_view(self._ref_active, HISTORY_HOPS)[starts] & usable
            correlations = _correlations(mic, refs, active)
            best = int(np.argmax(correlations))
            if correlations[best] >= ECHO_FOUND_CORRELATION:
                self.state, self.lag_hops = "found", max(int(_LAGS[best]), 0)
                pairs = active[best]
                self._log_gain = np.median(mic[pairs] - refs[best][pairs], axis=0)
                return
        no_echo = float(correlations.max()) < NO_ECHO_CORRELATION
        if no_echo and self._active_hops >= NO_ECHO_AFTER_HOPS:
            self.state = "none"


def _slide(window: Floats, samples: Audio) -> Floats:
    """`window` moved on by `samples`: its last WINDOW_SAMPLES samples after them."""
    if len(samples) >= WINDOW_SAMPLES:
        return samples[-WINDOW_SAMPLES:].astype(np.float64)
    return np.concatenate([window[len(samples) :], samples])


def _windows(window: Floats, samples: Audio | Floats) -> Floats:
    """The analysis window after each hop of `samples` (one row per hop), `window` before.

    Rows copied out with slices: for the few hops of a chunk that is several times cheaper
    than a strided view, and each row can be kept as the next chunk's `window`.
    """
    signal = np.concatenate([window, samples]).astype(np.float64)
    ends = range(WINDOW_SAMPLES + HOP_SAMPLES, len(signal) + 1, HOP_SAMPLES)
    return np.stack([signal[end - WINDOW_SAMPLES : end] for end in ends])


def _correlations(mic: Floats, refs: Floats, active: npt.NDArray[np.bool_]) -> Floats:
    """Per lag: Pearson correlation of the microphone's and the reference's log band energies
    over the hops `active` marks, each band's mean removed (which absorbs the path's gain).

    From sums (count, sums, sums of squares and of products per lag), so the lag x hop x band
    array is read three times and no centred copies of it are made.
    """
    weights = active.astype(np.float64)
    counts = weights.sum(axis=1)
    enough = counts >= MIN_PAIRED_HOPS
    counts = np.maximum(counts, 1.0)[:, None]
    weighted_refs = refs * weights[:, :, None]
    mic_sums = weights @ mic
    ref_sums = weighted_refs.sum(axis=1)
    covariance = np.einsum("lhb,hb->l", weighted_refs, mic) - ((mic_sums * ref_sums) / counts).sum(
        axis=1
    )
    mic_spread = (weights @ (mic * mic)).sum(axis=1) - (mic_sums**2 / counts).sum(axis=1)
    ref_spread = np.einsum("lhb,lhb->l", weighted_refs, refs) - (ref_sums**2 / counts).sum(axis=1)
    spread = np.sqrt(np.maximum(mic_spread, 0.0) * np.maximum(ref_spread, 0.0))
    correlations: Floats = np.where(
        enough & (spread > 0), covariance / np.where(spread > 0, spread, 1.0), 0.0
    )
    return correlations
