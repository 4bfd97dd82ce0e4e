"""The widget on a device whose echo cancellation lets the assistant's voice through.

Chromium's fake microphone cannot hear the page, so the page's audio is rewired before the
widget loads (an init script): the microphone the widget opens is a mix of a person (a real
recording, played once) and the widget's own playback, fed back 150 ms late and 10 dB down, as
a laptop's speaker reaches its microphone. The browser reports no echo cancellation, so the
widget does not declare any (`?aec=1`) and the server's echo guard is on its own.

The answer is long and fixed (the OpenAI-compatible simulator says it), spoken by the local
Piper voice; the person says "One, two, three." once and then stays silent while it plays.
Without the guard the echo of the answer would be taken for the person and cut the answer
(`voice/tests/engine/audio/test_echo.py` shows it on the same kind of echo); with it, the
answer plays to its end and no turn is made of the echo.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from playwright.async_api import async_playwright

from voice.tests.browser.widget_page import CHROMIUM_FLAGS, wait_for, words
from voice.tests.engine.voice_harness import recording, silence
from voice.tests.realtime.conftest import configure_agent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

# About six seconds of speech (a route's model name, which carries it, is capped at 100).
ANSWER = "The river is long and slow. It runs through three countries, past many old towns."
PERSON_RATE_HZ = 48_000
PERSON_URL = "/__room/person.wav"
ECHO_DELAY_S = 0.15
ECHO_GAIN = 0.316  # -10 dB
# The echo's loudest 20 ms, as RMS of full scale: -40 dBFS is well within what a voice
# detector takes for speech.
LOUD_ECHO_RMS = 0.01

# Runs before the page's scripts: the widget's AudioContext is recorded, getUserMedia returns
# the room's mix in that context, and whatever the widget connects to its speakers also goes
# into the room's echo path.
ROOM_SCRIPT = """
(() => {
  const room = { contexts: [], echoInput: null, echoPeakRms: 0 };
  window.__auraRoom = room;
  const NativeContext = window.AudioContext;
  window.AudioContext = class extends NativeContext {
    constructor(...args) { super(...args); room.contexts.push(this); }
  };
  const devices = navigator.mediaDevices;
  const supported = devices.getSupportedConstraints.bind(devices);
  devices.getSupportedConstraints = () => ({ ...supported(), echoCancellation: false });
  const connect = AudioNode.prototype.connect;
  AudioNode.prototype.connect = function (target, ...rest) {
    const result = connect.call(this, target, ...rest);
    if (target instanceof AudioDestinationNode && room.echoInput
        && target.context === room.echoInput.context) {
      connect.call(this, room.echoInput);
    }
    return result;
  };
  devices.getUserMedia = async () => {
    const context = room.contexts[room.contexts.length - 1];
    const microphone = context.createMediaStreamDestination();
    const delay = context.createDelay(1);
    delay.delayTime.value = %(delay)s;
    const gain = context.createGain();
    gain.gain.value = %(gain)s;
    const meter = context.createAnalyser();
    meter.fftSize = 1024;
    connect.call(delay, gain);
    connect.call(gain, microphone);
    connect.call(gain, meter);
    const samples = new Float32Array(meter.fftSize);
    setInterval(() => {
      meter.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      room.echoPeakRms = Math.max(room.echoPeakRms, Math.sqrt(sum / samples.length));
    }, 20);
    room.echoInput = delay;
    const reply = await fetch("%(person)s");
    const person = context.createBufferSource();
    person.buffer = await context.decodeAudioData(await reply.arrayBuffer());
    connect.call(person, microphone);
    person.start();
    return microphone.stream;
  };
})();
"""


def person_wav() -> bytes:
    """Half a second of silence, "One, two, three.", then silence while the answer plays."""
    audio = np.concatenate(
        [
            silence(500, PERSON_RATE_HZ),
            recording("english.wav", rate_hz=PERSON_RATE_HZ),
            silence(40_000, PERSON_RATE_HZ),
        ]
    )
    out = io.BytesIO()
    soundfile.write(out, audio, PERSON_RATE_HZ, format="WAV", subtype="PCM_16")
    return out.getvalue()


def the_answer_played_to_its_end(current: dict[str, Any]) -> bool:
    """The answer is done on the server and the widget went back to listening after it."""
    done = any(event.endswith(" response.done") for event in current["events"])
    seen = current["statesSeen"]
    spoke = "speaking" in seen and seen[-1] == "listening"
    return done and spoke and current["state"] == "listening"


async def test_the_widgets_own_echo_never_interrupts_its_answer(
    chromium_executable: Path, demo_page_url: str, tmp_path: Path, org_alpha: Any, simulator: Any
) -> None:
    await configure_agent(
        org_alpha,
        llm_routes=[
            {
                "provider": "openai_compatible",
                "model": f"say:{ANSWER}",
                "base_url": simulator.base_url,
            }
        ],
        # "One, two, three." is one turn (its pauses are not the end of it).
        turn_detection={"type": "server_vad", "silence_duration_ms": 1200},
    )
    person = person_wav()
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(chromium_executable),
            headless=True,
            args=list(CHROMIUM_FLAGS),
        )
        page = context.pages[0] if context.pages else await context.new_page()
        try:
            await page.route(
                f"**{PERSON_URL}",
                lambda route: route.fulfill(body=person, content_type="audio/wav"),
            )
            await page.add_init_script(
                ROOM_SCRIPT % {"delay": ECHO_DELAY_S, "gain": ECHO_GAIN, "person": PERSON_URL}
            )
            await page.goto(demo_page_url)
            await page.get_by_role("button", name="Talk to Alpha").click()
            await wait_for(
                page, "the session to open", lambda s: s["state"] == "listening", timeout_s=30
            )
            await wait_for(
                page,
                "an answer to be spoken",
                lambda s: any(e["role"] == "assistant" and e["full"] for e in s["transcript"]),
                timeout_s=90,
            )
            current = await wait_for(
                page, "the answer to play out", the_answer_played_to_its_end, timeout_s=90
            )
            echo_peak_rms = await page.evaluate("() => window.__auraRoom.echoPeakRms")
        finally:
            if not page.is_closed():
                await page.screenshot(path=tmp_path / "widget-echo.png")
            await context.close()

    # The echo reached the microphone, loud enough to be taken for speech.
    assert echo_peak_rms >= LOUD_ECHO_RMS, echo_peak_rms
    assert current["session"]["status"] == "open"
    answers = [e for e in current["transcript"] if e["role"] == "assistant"]
    assert [words(a["full"]) for a in answers] == [words(ANSWER)], current["transcript"]
    # It played whole: never cut, never flushed; the only user turn is the person's.
    assert not any(a["cut"] for a in answers), answers
    assert current["serverFlushes"] == []
    assert current["audio"]["playback"]["flushes"] == []
    said = [words(e["text"]) for e in current["transcript"] if e["role"] == "user"]
    assert len(said) == 1, said
    assert "speaking" in current["statesSeen"]
    assert not any(
        earlier == "speaking" and later == "user-speaking"
        for earlier, later in itertools.pairwise(current["statesSeen"])
    ), current["statesSeen"]
