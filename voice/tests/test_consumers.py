"""What a client may ask for in the realtime URL (voice/consumers.py `connect_options`)."""

from __future__ import annotations

from voice.consumers import connect_options
from voice.realtime.wire import ConnectOptions


def options_of(query: bytes) -> ConnectOptions:
    return connect_options({"query_string": query})


def test_a_bare_url_asks_for_the_openai_protocol_and_nothing_else():
    options = options_of(b"")

    assert (options.extensions, options.binary_audio, options.client_cancels_echo) == (
        False,
        False,
        False,
    )
    assert options.model == "aura-local"


def test_the_widget_asks_for_extensions_binary_audio_and_declares_its_echo_cancellation():
    options = options_of(b"aura=1&binary=1&aec=1&agent=support")

    assert options.extensions
    assert options.binary_audio
    assert options.client_cancels_echo
    assert options.agent == "support"


def test_binary_audio_needs_the_extensions_and_only_exact_flags_count():
    assert not options_of(b"binary=1").binary_audio
    assert not options_of(b"aec=true").client_cancels_echo
    assert not options_of(b"aec=").client_cancels_echo


def test_hostile_values_are_cut_to_200_characters_and_undecodable_bytes_do_not_raise():
    options = options_of(b"agent=" + b"a" * 10_000 + b"&user=%ff%fe&resume=\x00")

    assert options.agent == "a" * 200
    assert len(options.end_user_id) <= 200
