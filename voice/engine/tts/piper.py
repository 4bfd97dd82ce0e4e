"""Text-to-speech with Piper (VITS on onnxruntime) on the CPU, one sentence at a time.

Piper renders a whole sentence per model run, so audio streams out sentence by sentence, and
the first sentence's first clause on its own (~0.1 s for "Sure," on 2 cores). Text is
cut into pieces of bounded length first, which bounds both the memory of one run and how long
a cancelled synthesis keeps a core busy.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import unicodedata
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import onnxruntime
from onnxruntime.capi.onnxruntime_pybind11_state import (
    Fail,
    InvalidArgument,
    InvalidProtobuf,
    NoSuchFile,
    RuntimeException,
)
from piper import PiperVoice
from piper.config import PiperConfig, SynthesisConfig
from piper.voice import AudioChunk

from voice.engine.compute import compute_threads, run_cpu
from voice.engine.errors import InvalidRequestError, ProviderError, ProviderUnavailableError
from voice.engine.local_models import checked_piper_voice, piper_joe_voice
from voice.engine.tts.base import TextToSpeech

logger = logging.getLogger(__name__)

PACKAGED_VOICE = "en_US-joe-medium"
# About 9 s of speech: long enough for natural sentences, short enough that a cancelled
# run frees its core within ~1 s.
MAX_PIECE_CHARS = 150
MAX_TEXT_CHARS = 100_000
_SENTENCE = re.compile(r"\S.*?(?:[.!?…]+[\"')\]]*(?=\s)|$)", re.DOTALL)
_CLAUSE_BREAK = re.compile(r"[,;:\u2014\u2013]\s")  # also em and en dashes
# Piper reads "[[ ... ]]" as raw phonemes: user and model text must not reach that syntax.
_PHONEME_MARKUP = re.compile(r"\[\[|\]\]")
_WHITESPACE = re.compile(r"\s+")
# onnxruntime's errors derive from Exception directly, not from RuntimeError.
_ONNX_ERRORS = (Fail, InvalidArgument, InvalidProtobuf, NoSuchFile, RuntimeException)
# Headroom so that resampling to the wire rate does not clip Piper's peak-normalised output.
_SYNTHESIS = SynthesisConfig(volume=0.9)


class PiperTTS(TextToSpeech):
    """Piper voice on the CPU; one instance per process (`shared()`).

    Voices: only the loaded voice exists. Any other requested name (an OpenAI client sends
    "alloy" by default) falls back to it, with a warning logged once per name, so that a
    standard client keeps working offline.
    """

    provider = "local"
    _shared: ClassVar[dict[Path, PiperTTS]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, model_path: Path) -> None:
        """Load a Piper voice (.onnx with its .onnx.json beside it).

        Raises:
            ProviderUnavailableError: a file is missing or the model cannot be loaded.
        """
        model_path, config_path = checked_piper_voice(model_path, source="PiperTTS")
        self.model = model_path.name.removesuffix(".onnx")
        try:
            config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
            session = onnxruntime.InferenceSession(
                str(model_path), sess_options=_session_options(), providers=["CPUExecutionProvider"]
            )
        except (OSError, ValueError, KeyError, *_ONNX_ERRORS) as error:
            raise ProviderUnavailableError(
                f"Cannot load the Piper voice {model_path}: {error}",
                provider=self.provider,
                retryable=False,
            ) from error
        self._voice = PiperVoice(session=session, config=config)
        self.sample_rate_hz = config.sample_rate
        self._warned_voices: set[str] = set()

    @classmethod
    def shared(cls, model_path: Path | None = None) -> PiperTTS:
        """The process-wide instance for a voice (default: the packaged en_US-joe-medium).

        The first call loads the voice (~1 s, blocking): call it at startup, or use
        `load_shared()` from a coroutine.
        """
        resolved = (model_path or piper_joe_voice()[0]).resolve()
        with cls._shared_lock:
            instance = cls._shared.get(resolved)
            if instance is None:
                instance = cls(resolved)
                cls._shared[resolved] = instance
            return instance

    @classmethod
    async def load_shared(cls, model_path: Path | None = None) -> PiperTTS:
        """`shared()` without blocking the event loop."""
        return await run_cpu(cls.shared, model_path)

    async def synthesize(
        self, text: str, *, voice: str | None = None
    ) -> AsyncIterator[npt.NDArray[np.int16]]:
        """Speak `text`, yielding one int16 chunk per sentence at `sample_rate_hz`.

        Args:
            text: What to say; empty or whitespace-only text yields nothing.
            voice: A voice name; anything but this voice falls back to it (see the class).

        Raises:
            InvalidRequestError: the text is not a string or is longer than MAX_TEXT_CHARS.
            ProviderError: the model failed.
        """
        if not isinstance(text, str):
            raise InvalidRequestError("TTS text must be a string")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidRequestError(f"TTS text may hold at most {MAX_TEXT_CHARS} characters")
        self._note_voice(voice)
        for piece in text_pieces(text):
            # Creating Piper's generator does no work; each step (phonemes, model run) happens
            # in the executor.
            chunks = iter(self._voice.synthesize(piece, syn_config=_SYNTHESIS))
            while (audio := await run_cpu(self._next_audio, chunks)) is not None:
                yield audio

    async def warm_up(self) -> None:
        """Synthesize once so the first real clause does not pay for lazy initialisation."""
        async for _ in self.synthesize("Hello."):
            pass

    def _next_audio(self, chunks: Iterator[AudioChunk]) -> npt.NDArray[np.int16] | None:
        try:
            chunk = next(chunks, None)
        except (RuntimeError, ValueError, *_ONNX_ERRORS) as error:
            raise ProviderError(
                f"Piper failed: {error}", provider=self.provider, retryable=True
            ) from error
        if chunk is None:
            return None
        return np.asarray(chunk.audio_int16_array, dtype=np.int16)

    def _note_voice(self, voice: str | None) -> None:
        if voice is None or voice in (self.model, *self.model.split("-")[1:2]):
            return
        # Bounded: voice names come from clients, and one warning per name is plenty.
        if voice not in self._warned_voices and len(self._warned_voices) < 100:
            self._warned_voices.add(voice)
            logger.warning("Piper has no voice %r; speaking with %s", voice, self.model)


def text_pieces(text: str) -> Iterator[str]:
    """Cut text into speakable pieces of at most MAX_PIECE_CHARS, at sentence ends if possible.

    The first sentence is also cut after its first clause ("Sure, | I can help with that."):
    a short first piece is spoken sooner, and the rest is rendered while it plays.
    """
    cleaned = _WHITESPACE.sub(" ", _PHONEME_MARKUP.sub(" ", _without_control_chars(text)))
    sentences = (match.group().strip() for match in _SENTENCE.finditer(cleaned))
    first = next(sentences, None)
    if first is None:
        return
    clause_break = _CLAUSE_BREAK.search(first)
    if clause_break is not None and len(first[clause_break.end() :].split()) >= 2:
        yield from _bounded(first[: clause_break.end()].strip())
        first = first[clause_break.end() :]
    yield from _bounded(first.strip())
    for sentence in sentences:
        yield from _bounded(sentence)


def _bounded(sentence: str) -> Iterator[str]:
    while len(sentence) > MAX_PIECE_CHARS:
        cut = _last_break_before(sentence, MAX_PIECE_CHARS)
        yield sentence[:cut].strip()
        sentence = sentence[cut:].strip()
    if sentence:
        yield sentence


def _last_break_before(sentence: str, limit: int) -> int:
    clause_ends = [match.end() for match in _CLAUSE_BREAK.finditer(sentence, 0, limit)]
    if clause_ends and clause_ends[-1] > limit // 3:
        return clause_ends[-1]
    space = sentence.rfind(" ", 0, limit)
    return space if space > limit // 3 else limit


def _without_control_chars(text: str) -> str:
    return "".join(" " if unicodedata.category(char) in ("Cc", "Cs") else char for char in text)


def _session_options() -> onnxruntime.SessionOptions:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = compute_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    # Spinning threads would keep both cores busy after each run, starving Whisper and the
    # event loop on a 2-core machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options
