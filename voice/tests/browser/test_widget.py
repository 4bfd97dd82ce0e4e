"""The embeddable widget in real Chromium, against a live daphne running the local models.

The page is an organization's demo page (`http://alpha.localhost:<port>/`), which embeds
`/static/aura/widget.js` with the demo publishable key. Chromium's fake microphone plays a WAV
built from real recordings: a question (JFK's "ask not what your country can do for you..."),
then "One, two, three." several times with pauses of different lengths. Chromium loops the
file, so the user keeps talking. After some pause the assistant's answer is playing when the
user speaks again: a barge-in. Which pause that is depends on how fast the machine answers
(about one second idle, three or more when loaded), so the test waits for the first barge-in
instead of expecting it at a fixed moment.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jiwer
import numpy as np
import pytest
import soundfile
from asgiref.sync import sync_to_async
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.async_api import async_playwright

from conftest import TEST_AUDIO
from voice.tests.browser.widget_page import (
    CHROMIUM_FLAGS,
    answered_in_voice,
    stats,
    wait_for,
    words,
)
from voice.tests.engine.voice_harness import recording, silence

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

MICROPHONE_RATE_HZ = 48_000
# testdata/audio/README.md has the recordings' transcripts.
QUESTION = "jfk.flac"
QUESTION_WORDS = (
    "and so my fellow americans ask not what your country can do for you "
    "ask what you can do for your country"
)
INTERRUPTION = "english.wav"  # "One, two, three."
# The pause after each utterance. An answer of a second or more, starting 0.8-5 s after the
# end of a turn (an idle machine, or one busy with other work), is still playing when the next
# utterance starts after one of these pauses.
PAUSES_MS = (3200, 1400, 2100, 2800, 3600, 4500, 5400)
MAX_WORD_ERROR_RATE = 0.25
ADMIN_PASSWORD = "a long enough password 42"
# What the visitor writes when it rates the conversation at its end.
END_COMMENT = "Clear answers."


def fake_microphone(path: Path) -> Path:
    """The question and the interruptions, as 48 kHz mono PCM16 for Chromium's fake device."""
    rate_hz = MICROPHONE_RATE_HZ
    interruption = recording(INTERRUPTION, rate_hz=rate_hz)
    parts = [silence(500, rate_hz), recording(QUESTION, rate_hz=rate_hz)]
    for index, pause_ms in enumerate(PAUSES_MS):
        if index:
            parts.append(interruption)
        parts.append(silence(pause_ms, rate_hz))
    soundfile.write(path, np.concatenate(parts), rate_hz, subtype="PCM_16")
    return path


def question_error_rate(current: dict[str, Any]) -> float:
    """The word error rate of the best-matching stretch of what the user said.

    The server's voice detector may split the question at its pauses into several turns, and
    other utterances follow it: compare the question with every stretch of about its length.
    """
    said = words(" ".join(e["text"] for e in current["transcript"] if e["role"] == "user"))
    said_words, length = said.split(), len(QUESTION_WORDS.split())
    stretches = [
        " ".join(said_words[start : start + size])
        for size in range(max(1, length - 3), length + 4)
        for start in range(max(1, len(said_words) - size + 1))
    ]
    return min((jiwer.wer(QUESTION_WORDS, s) for s in stretches if s), default=1.0)


def heard_the_user(current: dict[str, Any]) -> bool:
    return question_error_rate(current) <= MAX_WORD_ERROR_RATE


def barge_in(current: dict[str, Any]) -> dict[str, Any] | None:
    """The first answer cut while it played: the widget's flush, the server's, the message."""
    messages = {entry["itemId"]: entry for entry in current["transcript"]}
    server_flushes = {flush["itemId"]: flush for flush in current["serverFlushes"]}
    for flush in current["audio"]["playback"]["flushes"]:
        item_id = flush["itemId"]
        message = messages.get(item_id)
        if (
            flush["wasPlaying"]
            and flush["playedMs"] > 0
            and item_id in server_flushes
            and message is not None
            and message["cut"]
        ):
            return {"widget": flush, "server": server_flushes[item_id], "message": message}
    return None


async def test_a_visitor_talks_hears_the_answer_and_interrupts_it(
    chromium_executable: Path, demo_page_url: str, tmp_path: Path, org_alpha: Any
) -> None:
    assert TEST_AUDIO.is_dir(), f"the recordings should be at {TEST_AUDIO}"

    microphone = fake_microphone(tmp_path / "microphone.wav")
    screenshot = tmp_path / "widget.png"
    console: list[str] = []
    failed: list[str] = []
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh --user-data-dir
            executable_path=str(chromium_executable),
            headless=True,
            args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-audio-capture={microphone}"],
        )
        # A persistent context opens with one tab: use it (a screenshot of another is blank).
        page = context.pages[0] if context.pages else await context.new_page()
        try:
            page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
            page.on(
                "response",
                lambda reply: (
                    failed.append(f"{reply.status} {reply.url}") if reply.status >= 400 else None
                ),
            )
            await run_conversation(page, demo_page_url, tmp_path)
        finally:
            if not page.is_closed():
                await page.screenshot(path=screenshot)
                widget_stats = tmp_path / "widget-stats.json"
                if await page.locator("aura-voice-widget").count():
                    widget_stats.write_text(json.dumps(await stats(page), indent=1))
                print(f"\nwidget screenshot: {screenshot}\nwidget stats: {widget_stats}")  # noqa: T201
            await context.close()
    await assert_ratings_stored(org_alpha)
    dashboard = await screenshot_the_dashboard(
        chromium_executable, demo_page_url, org_alpha, tmp_path
    )
    print(f"\ndashboard screenshot: {dashboard}")  # noqa: T201
    # Browsers ask for /favicon.ico by themselves; every other request must succeed.
    failed = [line for line in failed if not line.endswith("/favicon.ico")]
    assert not failed, failed
    errors = [
        line
        for line in console
        if line.startswith("pageerror")
        or (line.startswith("error") and "Failed to load resource" not in line)
    ]
    assert not errors, "\n".join(console)


async def run_conversation(page: Any, url: str, output_dir: Path) -> None:
    reply = await page.goto(url)
    assert reply is not None
    assert reply.ok
    script = await page.evaluate(
        "() => document.querySelector('script[src$=\"aura/widget.js\"]').src"
    )
    await assert_served_for_embedding(script)

    await page.get_by_role("button", name="Talk to Alpha").click()
    await wait_for(page, "the session to open", lambda s: s["state"] == "listening", timeout_s=30)
    # The level meter follows the microphone.
    await wait_for(page, "the input level", lambda s: s["audio"]["level"] > 0.003, timeout_s=15)
    assert int(await page.get_by_role("meter").get_attribute("aria-valuenow")) > 0

    await wait_for(page, "the user's words", heard_the_user, timeout_s=45)
    await wait_for(page, "a spoken answer", answered_in_voice, timeout_s=90)

    cut = None

    def interrupted(current: dict[str, Any]) -> bool:
        nonlocal cut
        cut = barge_in(current)
        return cut is not None

    current = await wait_for(page, "a barge-in during an answer", interrupted, timeout_s=90)
    assert cut is not None
    message = cut["message"]
    # The playback stopped with audio of the answer still queued, which was dropped: nothing
    # of an interrupted answer reached the speaker after its flush.
    assert cut["widget"]["droppedMs"] > 0, cut
    assert current["audio"]["playback"]["totalPlayedAfterFlush"] == 0
    # The server cut the answer where the widget's playback really was (it reports it).
    assert abs(cut["server"]["audioEndMs"] - cut["widget"]["playedMs"]) <= 300, cut
    # The transcript shows the cut: what was heard (a word-wise beginning of what was said),
    # marked as interrupted.
    said, heard = words(message["full"]), words(message["text"])
    assert said.startswith(heard), message
    note = await page.evaluate(
        """(itemId) => document.querySelector('aura-voice-widget').shadowRoot
            .querySelector(`.message[data-item-id="${itemId}"] .cut-note`)?.textContent""",
        message["itemId"],
    )
    assert note == "(interrupted)"
    barge_in_screenshot = output_dir / "widget-barge-in.png"
    await page.screenshot(path=barge_in_screenshot)
    print(f"\nwidget screenshot at the barge-in: {barge_in_screenshot}")  # noqa: T201
    seen = current["statesSeen"]
    for state in ("connecting", "listening", "user-speaking", "thinking", "speaking"):
        assert state in seen, seen
    assert any(
        earlier == "speaking" and later == "user-speaking"
        for earlier, later in itertools.pairwise(seen)
    ), seen

    # A dropped connection comes back with resume: same session, same conversation.
    session_id = current["session"]["sessionId"]
    await page.evaluate("() => document.querySelector('aura-voice-widget').simulateDrop()")
    resumed = await wait_for(
        page,
        "the session to resume",
        lambda s: s["session"]["resumes"] >= 1 and s["session"]["status"] == "open",
        timeout_s=20,
    )
    assert resumed["session"]["sessionId"] == session_id
    assert "reconnecting" in resumed["statesSeen"]

    # Mute and end, from the keyboard: muted, no audio leaves the page; ended, the socket closes.
    await page.get_by_role("button", name="Mute microphone").focus()
    await page.keyboard.press("Space")
    mute = page.get_by_role("button", name="Unmute microphone")
    assert await mute.get_attribute("aria-pressed") == "true"
    sent = (await stats(page))["session"]["audioFramesSent"]
    await asyncio.sleep(1.0)
    assert (await stats(page))["session"]["audioFramesSent"] == sent
    await mute.press("Enter")
    await wait_for(
        page,
        "audio to flow again after unmuting",
        lambda s: s["session"]["audioFramesSent"] > sent + 10,
        timeout_s=10,
    )
    await type_a_question_and_rate_the_answer(page)

    # Ending asks how it went: thumbs and a comment, from the keyboard, then the socket closes.
    await page.get_by_role("button", name="End conversation").press("Enter")
    good = page.get_by_role("button", name="Good conversation")
    await good.press("Enter")  # focused when the question appears
    assert await good.get_attribute("aria-pressed") == "true"
    comment = page.get_by_role("textbox", name="Comment (optional)")
    await comment.fill(END_COMMENT)
    await comment.press("Enter")
    ended = await wait_for(
        page, "the end", lambda s: s["session"]["status"] == "closed", timeout_s=10
    )
    assert ended["state"] == "ended"
    assert {"itemId": None, "rating": "up"} in ended["feedbackSent"]


async def type_a_question_and_rate_the_answer(page: Any) -> None:
    """The text box beside the microphone: typed, sent with Enter, answered (spoken and shown);
    then the answer's own thumbs, unobtrusive until used."""
    question = "What is the capital of France?"
    box = page.get_by_role("textbox", name="Type a message")
    await box.focus()
    await page.keyboard.type(question)
    await page.keyboard.press("Enter")
    assert await box.input_value() == ""

    def answer_to_typed(current: dict[str, Any]) -> dict[str, Any] | None:
        entries = current["transcript"]
        typed = [i for i, e in enumerate(entries) if e["role"] == "user" and e["text"] == question]
        if not typed:
            return None
        after = entries[typed[0] + 1 :]
        return next((e for e in after if e["role"] == "assistant" and words(e["full"])), None)

    current = await wait_for(
        page, "an answer to the typed question", lambda s: answer_to_typed(s), timeout_s=90
    )
    answer = answer_to_typed(current)
    assert answer is not None
    thumb = page.locator(f'.message[data-item-id="{answer["itemId"]}"] .thumb[data-rating="up"]')
    await wait_for_visible(thumb)
    await thumb.focus()
    await page.keyboard.press("Enter")
    assert await thumb.get_attribute("aria-pressed") == "true"
    await wait_for(
        page, "the rating to be stored", lambda s: s["feedbackRecorded"] >= 1, timeout_s=10
    )


async def wait_for_visible(locator: Any) -> None:
    # The thumbs appear when the answer's output item is done (it may still be speaking).
    await locator.wait_for(state="attached", timeout=90_000)


async def assert_ratings_stored(organization: Any) -> None:
    """What the visitor rated is stored with their conversation, and it has an outcome."""
    from conversations.models import Conversation, Feedback

    def read() -> tuple[list[tuple[str, str, bool]], list[str]]:
        with schema_context(organization.schema_name):
            ratings = [
                (f.rating, f.comment, bool(f.item_id)) for f in Feedback.objects.order_by("item_id")
            ]
            # This visitor's conversation: the one it rated at its end (other tests rate
            # conversations of the same schema too).
            rated = Conversation.objects.filter(feedback__comment=END_COMMENT).distinct()
            outcomes = list(rated.values_list("outcome", flat=True))
            return ratings, outcomes

    deadline = time.monotonic() + 20
    ratings, outcomes = await sync_to_async(read)()
    while not all(outcomes) and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        ratings, outcomes = await sync_to_async(read)()
    assert ("up", END_COMMENT, False) in ratings
    assert any(rated_answer for _, _, rated_answer in ratings)
    assert outcomes
    assert all(outcome in ("completed", "abandoned") for outcome in outcomes), outcomes


async def screenshot_the_dashboard(
    chromium_executable: Path, demo_page_url: str, organization: Any, tmp_path: Path
) -> Path:
    """The organization's admin signs in and opens the dashboard: success rate, satisfaction
    and audio quality of today, rolled up from the conversation that just happened."""
    from django.contrib.auth.models import User

    from monitoring.services import usage_roll_up

    def prepare() -> None:
        with schema_context(organization.schema_name):
            User.objects.create_superuser("owner", "owner@example.com", ADMIN_PASSWORD)
            usage_roll_up(period="day", period_start=timezone.now())

    await sync_to_async(prepare)()
    path = tmp_path / "dashboard.png"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium_executable), headless=True, args=list(CHROMIUM_FLAGS)
        )
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1800})
            await page.goto(demo_page_url + "admin/login/")
            await page.fill("input[name=username]", "owner")
            await page.fill("input[name=password]", ADMIN_PASSWORD)
            await page.click("input[type=submit]")
            await page.goto(demo_page_url + "admin/monitoring/activityrollup/")
            content = await page.content()
            for shown in (
                "Conversation success rate and satisfaction",
                "Audio quality (DNSMOS overall",
                "Success",
                "Satisfaction",
            ):
                assert shown in content, shown
            await page.screenshot(path=path, full_page=True)
            today = await page.locator(".aura-dashboard tbody tr").first.inner_text()
            assert "100 % of 2" in today, today  # the conversation and an answer, thumbs up
        finally:
            await browser.close()
    return path


async def assert_served_for_embedding(script_url: str) -> None:
    """The script is served by daphne as JavaScript that other sites may load."""
    # The same server by its address: Python, unlike Chromium, may not resolve *.localhost.
    url = urlsplit(script_url)._replace(netloc=f"127.0.0.1:{urlsplit(script_url).port}")
    request = urllib.request.Request(url.geturl(), headers={"Origin": "https://shop.example"})

    def fetch() -> tuple[int, str, str | None]:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return (
                reply.status,
                reply.headers["Content-Type"],
                reply.headers["Access-Control-Allow-Origin"],
            )

    status, content_type, allowed_origin = await asyncio.to_thread(fetch)
    assert status == 200
    assert "javascript" in content_type
    assert allowed_origin == "*"
