"""AURA's voice engine: a framework-free streaming pipeline (VAD → STT → LLM → TTS).

Nothing in this package imports Django or Channels; the transport layers drive it through
`voice.engine.pipeline.session.VoiceSession` and the small ports in `voice.engine.ports`.
"""
