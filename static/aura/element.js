// AURA widget: the <aura-voice-widget> element. A talk button and a panel in a shadow root,
// driving one RealtimeSession (the socket) and one AudioIO (microphone and speaker).
//
// Attributes: key (a publishable pk_ key, required), agent, user, server (default: where this
// script was loaded from), assistant-name, position ("bottom-right" or "bottom-left").
// `element.stats` reports what happened (states, transcripts, audio counters), for tests and
// for debugging; the element also dispatches `aura:state` and `aura:transcript` DOM events.

import { AudioIO } from "./audio.js";
import { RealtimeSession } from "./session.js";
import { STYLES } from "./styles.js";

const SESSION_RATE_HZ = 24000;
// Microphone frames captured before the session is ready are kept (up to this many) and sent
// once it is, so that the first words are not lost.
const EARLY_FRAMES_KEPT = 50;
const STATE_LABELS = {
  idle: "Not connected",
  connecting: "Connecting…",
  listening: "Listening",
  "user-speaking": "You're speaking",
  thinking: "Thinking…",
  speaking: "Speaking",
  reconnecting: "Reconnecting…",
  ended: "Ended",
  error: "Error",
};
const MIC_ICON =
  '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.92V21h2v-3.08A7 7 0 0 0 19 11z"/></svg>';

const DEFAULT_SERVER = new URL(import.meta.url).origin;

function hasWords(text) {
  return /[\p{L}\p{N}]/u.test(text || "");
}

function itemText(item) {
  const content = (item && item.content) || [];
  return content.map((part) => part.transcript || part.text || "").join(" ").trim();
}

export class AuraVoiceWidget extends HTMLElement {
  constructor() {
    super();
    this.root = this.attachShadow({ mode: "open" });
    this.$ = (selector) => this.root.querySelector(selector);
    this.messages = new Map(); // item id -> {element, role, text, full, cut, audioEndMs}
    this.order = [];
    this.statesSeen = [];
    this.serverFlushes = [];
    this.eventLog = []; // [time ms, server event type], the latest few hundred
    this.earlyFrames = [];
    this.locallyFlushed = new Set();
    this.resetFlags();
    this.state = "idle";
    this.active = false;
  }

  resetFlags() {
    this.connection = "idle";
    this.reason = "";
    this.userSpeaking = false;
    this.awaitingAnswer = false;
    this.responding = false;
    this.playing = false;
    this.playbackItemId = null;
    this.interruptResponse = true;
  }

  template() {
    const title = this.getAttribute("assistant-name") || "Assistant";
    const escaped = title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
    return `
      <style>${STYLES}</style>
      <section class="panel" id="panel" role="dialog" aria-label="Voice conversation with ${escaped}" hidden data-state="idle">
        <header>
          <span class="title">${escaped}</span>
          <span class="state" role="status" aria-live="polite"><span class="state-indicator" aria-hidden="true"></span><span class="state-label">${STATE_LABELS.idle}</span></span>
        </header>
        <div class="meter" role="meter" aria-label="Microphone level" aria-valuemin="0" aria-valuemax="100" aria-valuenow="0"><div class="meter-bar"></div></div>
        <ol class="transcript" role="log" aria-live="polite" aria-label="Conversation transcript"></ol>
        <form class="typing">
          <label class="sr-only" for="aura-text">Type a message</label>
          <input id="aura-text" class="text-input" type="text" autocomplete="off" maxlength="2000" placeholder="Type a message…" disabled>
          <button type="submit" class="send" aria-label="Send message" disabled>Send</button>
        </form>
        <form class="rating" hidden aria-label="Rate this conversation">
          <p class="rating-question">How was this conversation?</p>
          <div class="rating-choices">
            <button type="button" class="rate-up" aria-pressed="false" aria-label="Good conversation">👍</button>
            <button type="button" class="rate-down" aria-pressed="false" aria-label="Bad conversation">👎</button>
          </div>
          <label class="sr-only" for="aura-comment">Comment (optional)</label>
          <input id="aura-comment" class="comment" type="text" maxlength="2000" placeholder="Anything to add? (optional)">
          <div class="rating-actions">
            <button type="submit" class="rating-send" disabled>Send and end</button>
            <button type="button" class="rating-skip">Skip</button>
          </div>
        </form>
        <footer>
          <button type="button" class="mute" aria-pressed="false" aria-label="Mute microphone" disabled>Mute</button>
          <button type="button" class="end" aria-label="End conversation" disabled>End</button>
        </footer>
      </section>
      <button type="button" class="launcher" aria-controls="panel" aria-expanded="false" aria-label="Talk to ${escaped}">${MIC_ICON}<span class="launcher-label">Talk to us</span></button>
    `;
  }

  connectedCallback() {
    if (this.rendered) return;
    // Rendered on connection, not in the constructor: attributes set after createElement count.
    this.rendered = true;
    this.root.innerHTML = this.template();
    this.$(".launcher").addEventListener("click", () => this.onLauncher());
    this.$(".mute").addEventListener("click", () => this.toggleMute());
    this.$(".end").addEventListener("click", () => this.askForRating());
    this.$(".typing").addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendText();
    });
    this.$(".rate-up").addEventListener("click", () => this.chooseRating("up"));
    this.$(".rate-down").addEventListener("click", () => this.chooseRating("down"));
    this.$(".rating").addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendRating();
    });
    this.$(".rating-skip").addEventListener("click", () => this.end());
    this.$(".transcript").addEventListener("click", (event) => this.onTranscriptClick(event));
    this.$(".panel").addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.hidePanel();
      }
    });
  }

  disconnectedCallback() {
    if (this.active) this.end();
  }

  // --- user actions ------------------------------------------------------------------------

  onLauncher() {
    if (this.active) {
      if (this.$(".panel").hidden) this.showPanel();
      else this.hidePanel();
      return;
    }
    this.showPanel();
    this.start();
  }

  showPanel() {
    this.$(".panel").hidden = false;
    this.$(".launcher").setAttribute("aria-expanded", "true");
    const focusable = this.$(".mute").disabled ? this.$(".panel") : this.$(".mute");
    if (focusable === this.$(".panel")) this.$(".panel").tabIndex = -1;
    focusable.focus();
  }

  hidePanel() {
    this.$(".panel").hidden = true;
    this.$(".launcher").setAttribute("aria-expanded", "false");
    this.$(".launcher").focus();
  }

  start() {
    const key = this.getAttribute("key");
    if (!key) {
      this.fail("This widget has no key: add data-key=\"pk_…\" to its script tag.");
      return;
    }
    this.active = true;
    this.resetFlags();
    this.locallyFlushed.clear();
    this.earlyFrames = [];
    this.audio = new AudioIO({ sessionRate: SESSION_RATE_HZ });
    this.session = new RealtimeSession({
      serverUrl: this.getAttribute("server") || DEFAULT_SERVER,
      key,
      agent: this.getAttribute("agent") || "",
      user: this.getAttribute("user") || "",
      sessionRate: SESSION_RATE_HZ,
    });
    this.wire();
    this.rating = null;
    this.feedbackSent = [];
    this.$(".rating").hidden = true;
    this.$(".typing").hidden = false;
    this.$(".launcher-label").textContent = "Conversation";
    this.$(".mute").disabled = false;
    this.$(".end").disabled = false;
    this.$(".text-input").disabled = false;
    this.$(".send").disabled = false;
    this.$(".mute").setAttribute("aria-pressed", "false");
    this.$(".mute").setAttribute("aria-label", "Mute microphone");
    this.$(".mute").textContent = "Mute";
    try {
      // Inside the click: browsers only let an AudioContext created by a gesture play.
      this.audio.prepare();
    } catch (error) {
      this.fail(error.message);
      return;
    }
    this.connection = "connecting";
    this.render();
    this.session.connect();
    const audio = this.audio;
    audio.start().catch((error) => {
      // Ended (or restarted) while the microphone was opening: nothing to report.
      if (this.active && this.audio === audio) this.fail(error.message || "Audio could not start.");
    });
  }

  toggleMute() {
    if (!this.audio) return;
    const muted = !this.audio.muted;
    this.audio.setMuted(muted);
    const button = this.$(".mute");
    button.setAttribute("aria-pressed", String(muted));
    button.setAttribute("aria-label", muted ? "Unmute microphone" : "Mute microphone");
    button.textContent = muted ? "Unmute" : "Mute";
    this.renderLevel(0);
  }

  /** Type instead of speaking: a user text message, answered in voice and in text. */
  sendText() {
    const input = this.$(".text-input");
    const text = input.value.trim();
    if (!text || !this.session || !this.session.isOpen) return;
    // A typed message interrupts the answer that is playing, as speech would.
    if (this.playing || this.responding) this.stopPlayback();
    const itemId = `item_typed_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    this.session.send({
      type: "conversation.item.create",
      item: { id: itemId, type: "message", role: "user", content: [{ type: "input_text", text }] },
    });
    if (!this.responding) this.session.send({ type: "response.create" });
    this.message(itemId, "user");
    this.setText(itemId, text);
    this.awaitingAnswer = true;
    input.value = "";
    this.render();
  }

  /** Rate one answer (unobtrusive thumbs beside it); rating again replaces the rating. */
  rateAnswer(itemId, rating) {
    const entry = this.messages.get(itemId);
    if (!entry || !this.session) return;
    this.session.send({ type: "aura.feedback", rating, item_id: itemId });
    this.feedbackSent.push({ itemId, rating });
    for (const button of entry.element.querySelectorAll(".thumb")) {
      button.setAttribute("aria-pressed", String(button.dataset.rating === rating));
    }
  }

  onTranscriptClick(event) {
    const button = event.target.closest && event.target.closest(".thumb");
    if (!button) return;
    const message = button.closest(".message");
    if (message) this.rateAnswer(message.dataset.itemId, button.dataset.rating);
  }

  /** "End": ask how it went first, while the session is still open to take the answer. */
  askForRating() {
    if (!this.active) return;
    if (!this.session || !this.session.isOpen) {
      this.end();
      return;
    }
    this.audio.setMuted(true);
    if (this.playing || this.responding) this.stopPlayback();
    this.$(".typing").hidden = true;
    this.$(".rating").hidden = false;
    this.$(".rate-up").focus();
  }

  chooseRating(rating) {
    this.rating = rating;
    this.$(".rate-up").setAttribute("aria-pressed", String(rating === "up"));
    this.$(".rate-down").setAttribute("aria-pressed", String(rating === "down"));
    this.$(".rating-send").disabled = false;
  }

  sendRating() {
    if (this.rating && this.session) {
      const comment = this.$(".comment").value.trim();
      this.session.send({ type: "aura.feedback", rating: this.rating, ...(comment ? { comment } : {}) });
      this.feedbackSent.push({ itemId: null, rating: this.rating });
    }
    this.end();
  }

  end() {
    if (!this.active) return;
    this.active = false;
    this.$(".rating").hidden = true;
    this.$(".typing").hidden = false;
    this.session.close();
    this.audio.stop().catch((error) => console.warn("AURA: audio did not stop cleanly", error));
    this.connection = "ended";
    this.reason = "";
    this.finishUi();
    this.render();
  }

  fail(message) {
    this.connection = "error";
    this.reason = message;
    if (this.active) {
      this.active = false;
      if (this.session) this.session.close();
      if (this.audio) this.audio.stop().catch(() => {});
    }
    this.finishUi();
    this.render();
  }

  finishUi() {
    this.$(".mute").disabled = true;
    this.$(".end").disabled = true;
    this.$(".text-input").disabled = true;
    this.$(".send").disabled = true;
    this.$(".launcher-label").textContent = "Talk to us";
    this.renderLevel(0);
  }

  // --- wiring ------------------------------------------------------------------------------

  wire() {
    const { audio, session } = this;
    // A conversation ended and restarted quickly: the old one's late events are ignored.
    const current = (handler) => (event) => {
      if (this.session === session) handler(event.detail);
    };
    audio.addEventListener("frame", current((pcm) => this.onFrame(pcm)));
    audio.addEventListener("level", current((level) => this.renderLevel(level.rms)));
    audio.addEventListener("playback", current((report) => this.onPlayback(report)));
    session.addEventListener("status", current((status) => this.onStatus(status)));
    session.addEventListener("server-event", current((event) => this.onServerEvent(event)));
    session.addEventListener("audio", current((audioFrame) => this.onAudio(audioFrame)));
    session.addEventListener(
      "restarted",
      current(() => this.note("The conversation could not be resumed; a new one has started.")),
    );
  }

  onFrame(pcm) {
    if (this.session.sendAudio(pcm)) return;
    this.earlyFrames.push(pcm);
    if (this.earlyFrames.length > EARLY_FRAMES_KEPT) this.earlyFrames.shift();
  }

  onStatus({ status, reason }) {
    if (!this.active && status !== "error") return;
    if (status === "open") {
      this.connection = "open";
      for (const pcm of this.earlyFrames.splice(0)) this.session.sendAudio(pcm);
    } else if (status === "reconnecting") {
      this.connection = "reconnecting";
      // The answer that was playing cannot continue on the new connection.
      if (this.playing || this.responding) this.stopPlayback();
      this.userSpeaking = this.awaitingAnswer = this.responding = false;
    } else if (status === "connecting") {
      this.connection = "connecting";
    } else if (status === "closed") {
      if (this.active) {
        this.active = false;
        this.audio.stop().catch(() => {});
        this.finishUi();
      }
      this.connection = "ended";
      this.reason = reason;
      if (reason) this.note(reason);
    } else if (status === "error") {
      this.fail(reason);
      return;
    }
    this.render();
  }

  onPlayback(report) {
    if (report.type === "started") this.playing = true;
    else if (report.type === "drained" || report.type === "stopped") this.playing = false;
    else if (report.type === "underrun") this.playing = this.responding;
    this.playbackItemId = report.itemId;
    if (report.itemId && !this.locallyFlushed.has(report.itemId)) {
      // How far the listener really got: the server cuts the transcript there on barge-in.
      // With the player's running underrun count and wait for late audio (quality signals).
      this.session.send({
        type: "aura.playback.position",
        item_id: report.itemId,
        played_ms: Math.round(report.playedMs),
        underruns: report.underruns || 0,
        late_ms: Math.round(report.lateMs || 0),
      });
    }
    this.render();
  }

  onAudio({ itemId, pcm }) {
    if (!itemId || this.locallyFlushed.has(itemId)) return;
    this.audio.play(itemId, pcm);
  }

  /** Stop the voice now: drop what is queued, and what is still coming of the item. */
  stopPlayback(itemId = this.session.audioItemId || this.playbackItemId) {
    if (itemId) this.locallyFlushed.add(itemId);
    this.audio.flush(itemId);
    this.playing = false;
  }

  // --- server events -----------------------------------------------------------------------

  onServerEvent(event) {
    this.eventLog.push([Math.round(performance.now()), event.type]);
    if (this.eventLog.length > 400) this.eventLog.shift();
    switch (event.type) {
      case "session.created":
      case "session.updated": {
        const input = event.session && event.session.audio && event.session.audio.input;
        const detection = input ? input.turn_detection : null;
        this.interruptResponse = Boolean(detection && detection.interrupt_response);
        break;
      }
      case "input_audio_buffer.speech_started":
        this.userSpeaking = true;
        // Barge-in: stop the voice at once (and drop what is queued or still coming); the
        // server cancels the answer and says where the transcript was cut (aura.playback.flush).
        if (this.interruptResponse && (this.playing || this.responding)) this.stopPlayback();
        break;
      case "input_audio_buffer.speech_stopped":
        this.userSpeaking = false;
        this.awaitingAnswer = true;
        break;
      case "conversation.item.added":
        this.onItemAdded(event.item);
        break;
      case "conversation.item.input_audio_transcription.delta":
        this.appendText(event.item_id, event.delta);
        break;
      case "conversation.item.input_audio_transcription.completed":
        this.onUserTranscript(event.item_id, event.transcript);
        break;
      case "conversation.item.input_audio_transcription.failed":
        this.setText(event.item_id, "(not understood)");
        this.awaitingAnswer = false;
        break;
      case "response.created":
        this.responding = true;
        this.awaitingAnswer = false;
        break;
      case "response.output_item.added":
        if (event.item.type === "message") this.message(event.item.id, "assistant");
        break;
      case "response.output_audio_transcript.delta":
      case "response.output_text.delta":
        this.appendText(event.item_id, event.delta);
        break;
      case "response.output_audio.done":
        this.audio.end(event.item_id);
        break;
      case "response.output_item.done":
        this.onOutputItemDone(event.item);
        break;
      case "response.done":
        this.onResponseDone(event.response);
        break;
      case "output_audio_buffer.cleared":
        if (!this.locallyFlushed.has(this.session.audioItemId)) this.stopPlayback();
        break;
      case "aura.playback.flush":
        this.onServerFlush(event);
        break;
      case "aura.feedback.recorded":
        this.feedbackRecorded = (this.feedbackRecorded || 0) + 1;
        break;
      case "error":
        console.warn("AURA:", event.error && event.error.message, event.error);
        break;
      default:
        break;
    }
    this.render();
  }

  onItemAdded(item) {
    // Live speech only: items restored on resume are already on screen.
    const content = (item && item.content) || [];
    if (item.role === "user" && content.some((part) => part.type === "input_audio")) {
      const entry = this.message(item.id, "user");
      if (!entry.text) this.setText(item.id, "", { pending: true });
    }
  }

  onUserTranscript(itemId, transcript) {
    if (!hasWords(transcript)) {
      // Noise, a cough: no message, and no answer is coming.
      this.removeMessage(itemId);
      this.awaitingAnswer = false;
      return;
    }
    this.setText(itemId, transcript.trim());
  }

  onOutputItemDone(item) {
    if (item.type !== "message") return;
    const entry = this.messages.get(item.id);
    if (!entry) return;
    this.setText(item.id, itemText(item));
    if (item.status === "incomplete") this.markCut(item.id);
    this.addThumbs(entry);
  }

  addThumbs(entry) {
    if (entry.role !== "assistant" || entry.element.querySelector(".thumbs")) return;
    const thumbs = document.createElement("span");
    thumbs.className = "thumbs";
    for (const [rating, symbol, label] of [
      ["up", "👍", "Good answer"],
      ["down", "👎", "Bad answer"],
    ]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "thumb";
      button.dataset.rating = rating;
      button.setAttribute("aria-pressed", "false");
      button.setAttribute("aria-label", label);
      button.textContent = symbol;
      thumbs.append(button);
    }
    entry.element.append(thumbs);
  }

  onResponseDone(response) {
    this.responding = false;
    this.awaitingAnswer = false;
    if (response.status !== "cancelled") return;
    for (const item of response.output || []) {
      if (item.type !== "message" || !this.messages.has(item.id)) continue;
      this.setText(item.id, itemText(item));
      this.markCut(item.id);
    }
  }

  onServerFlush(event) {
    this.serverFlushes.push({
      itemId: event.item_id,
      audioEndMs: event.audio_end_ms,
      at: performance.now(),
    });
    if (this.serverFlushes.length > 50) this.serverFlushes.shift();
    if (!this.locallyFlushed.has(event.item_id)) this.stopPlayback(event.item_id);
    const entry = this.messages.get(event.item_id);
    if (entry) entry.audioEndMs = event.audio_end_ms;
    this.markCut(event.item_id);
  }

  // --- transcript --------------------------------------------------------------------------

  message(itemId, role) {
    let entry = this.messages.get(itemId);
    if (entry) return entry;
    const element = document.createElement("li");
    element.className = "message";
    element.dataset.role = role;
    element.dataset.itemId = itemId;
    const speaker = document.createElement("span");
    speaker.className = "sr-only";
    speaker.textContent = role === "user" ? "You: " : role === "assistant" ? "Assistant: " : "";
    const text = document.createElement("span");
    text.className = "text";
    element.append(speaker, text);
    this.$(".transcript").append(element);
    entry = {
      itemId,
      role,
      element,
      text: "",
      full: "",
      cut: false,
      audioEndMs: null,
      createdAt: Math.round(performance.now()),
    };
    this.messages.set(itemId, entry);
    this.order.push(itemId);
    this.scrollTranscript();
    return entry;
  }

  note(text) {
    const entry = this.message(`note_${this.order.length}`, "system");
    this.setText(entry.itemId, text);
  }

  appendText(itemId, delta) {
    const entry = this.messages.get(itemId);
    if (!entry || !delta) return;
    entry.full += delta;
    this.setText(itemId, entry.text + delta);
  }

  setText(itemId, text, { pending = false } = {}) {
    const entry = this.messages.get(itemId);
    if (!entry) return;
    entry.text = text;
    if (text.length > entry.full.length && !entry.cut) entry.full = text;
    entry.element.dataset.pending = String(pending);
    entry.element.querySelector(".text").textContent = pending ? "…" : text;
    this.scrollTranscript();
    this.dispatchEvent(
      new CustomEvent("aura:transcript", {
        detail: { itemId, role: entry.role, text, cut: entry.cut },
        bubbles: true,
        composed: true,
      }),
    );
  }

  markCut(itemId) {
    const entry = this.messages.get(itemId);
    if (!entry || entry.cut) return;
    entry.cut = true;
    entry.element.dataset.cut = "true";
    const note = document.createElement("span");
    note.className = "cut-note";
    note.textContent = "(interrupted)";
    entry.element.append(note);
  }

  removeMessage(itemId) {
    const entry = this.messages.get(itemId);
    if (!entry) return;
    entry.element.remove();
    this.messages.delete(itemId);
    this.order = this.order.filter((id) => id !== itemId);
  }

  scrollTranscript() {
    const log = this.$(".transcript");
    log.scrollTop = log.scrollHeight;
  }

  // --- rendering ---------------------------------------------------------------------------

  computeState() {
    if (this.connection === "error") return "error";
    if (this.connection === "ended") return "ended";
    if (this.connection === "idle") return "idle";
    if (this.connection === "reconnecting") return "reconnecting";
    if (this.connection === "connecting") return "connecting";
    if (this.userSpeaking) return "user-speaking";
    if (this.playing) return "speaking";
    if (this.awaitingAnswer || this.responding) return "thinking";
    return "listening";
  }

  render() {
    const state = this.computeState();
    if (state !== this.state) {
      this.state = state;
      this.statesSeen.push(state);
      if (this.statesSeen.length > 500) this.statesSeen.shift();
      this.dispatchEvent(
        new CustomEvent("aura:state", { detail: { state }, bubbles: true, composed: true }),
      );
    }
    const label =
      state === "error" && this.reason ? `Error: ${this.reason}` : STATE_LABELS[state] || state;
    this.$(".state-label").textContent = label;
    this.$(".panel").dataset.state = state;
  }

  renderLevel(rms) {
    // -60 dBFS .. 0 dBFS onto 0..100.
    const db = rms > 0 ? 20 * Math.log10(rms) : -100;
    const percent = Math.max(0, Math.min(100, Math.round(((db + 60) / 60) * 100)));
    this.$(".meter-bar").style.width = `${percent}%`;
    this.$(".meter").setAttribute("aria-valuenow", String(percent));
  }

  // --- introspection -----------------------------------------------------------------------

  get stats() {
    return {
      state: this.state,
      statesSeen: [...this.statesSeen],
      transcript: this.order
        .map((id) => this.messages.get(id))
        .map(({ itemId, role, text, full, cut, audioEndMs, createdAt }) => ({
          itemId,
          role,
          text,
          full,
          cut,
          audioEndMs,
          createdAt,
        })),
      serverFlushes: [...this.serverFlushes],
      feedbackSent: [...(this.feedbackSent || [])],
      feedbackRecorded: this.feedbackRecorded || 0,
      events: this.eventLog.map(([at, type]) => `${at} ${type}`),
      audio: this.audio ? JSON.parse(JSON.stringify(this.audio.stats)) : null,
      session: this.session
        ? { ...this.session.stats, sessionId: this.session.sessionId, status: this.session.status }
        : null,
    };
  }

  /** Close the socket as a network failure would: the widget reconnects and resumes. */
  simulateDrop() {
    if (this.session) this.session.drop();
  }
}
