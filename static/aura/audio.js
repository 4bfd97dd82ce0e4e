// AURA widget: the microphone and the speaker, through two AudioWorklets.
//
// Capture: getUserMedia (echo cancellation, noise suppression, automatic gain) -> the capture
// worklet, which posts PCM16 frames at the session's rate. Playback: PCM16 chunks -> the
// playback worklet's jitter buffer -> the speakers. Everything the worklets report is
// re-dispatched as DOM events on this object.

const WORKLETS = {
  capture: new URL("./worklets/capture-processor.js", import.meta.url),
  playback: new URL("./worklets/playback-processor.js", import.meta.url),
};

export class AudioUnavailableError extends Error {}

export class AudioIO extends EventTarget {
  constructor({ sessionRate = 24000, frameMs = 20, prebufferMs = 60 } = {}) {
    super();
    this.sessionRate = sessionRate;
    this.frameMs = frameMs;
    this.prebufferMs = prebufferMs;
    this.context = null;
    this.stream = null;
    this.muted = false;
    // Read by tests and by the widget's `stats`.
    this.stats = {
      framesCaptured: 0,
      playback: {
        playing: false,
        totalNonSilentSamples: 0,
        totalPlayedSamples: 0,
        totalPlayedAfterFlush: 0,
        underruns: 0,
        flushes: [],
      },
      level: 0,
      contextRate: null,
    };
  }

  /**
   * Create the AudioContext synchronously: call this inside the click (or key) handler that
   * opened the conversation, so that browsers let it play sound.
   */
  prepare() {
    if (this.context) return;
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context || !window.AudioWorkletNode) {
      throw new AudioUnavailableError("This browser cannot process audio (no AudioWorklet).");
    }
    this.context = new Context({ latencyHint: "interactive" });
    this.stats.contextRate = this.context.sampleRate;
  }

  async start() {
    this.prepare();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new AudioUnavailableError(
        "The microphone is only available on secure pages (https or localhost).",
      );
    }
    const loading = Promise.all([
      this.context.audioWorklet.addModule(WORKLETS.capture),
      this.context.audioWorklet.addModule(WORKLETS.playback),
    ]);
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          echoCancellation: true,
          noiseSuppression: true,
          autoGainControl: true,
          channelCount: 1,
        },
      });
    } catch (error) {
      throw new AudioUnavailableError(
        error && error.name === "NotAllowedError"
          ? "Microphone access was denied."
          : "No microphone could be opened.",
      );
    }
    await loading;
    if (this.context.state === "suspended") await this.context.resume();
    this.source = this.context.createMediaStreamSource(this.stream);
    this.capture = new AudioWorkletNode(this.context, "aura-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { targetRate: this.sessionRate, frameMs: this.frameMs },
    });
    this.capture.port.onmessage = (event) => this.onCapture(event.data);
    this.source.connect(this.capture);
    // The capture node writes nothing; connecting it keeps it rendering in every browser.
    this.capture.connect(this.context.destination);
    this.playback = new AudioWorkletNode(this.context, "aura-playback", {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { sessionRate: this.sessionRate, prebufferMs: this.prebufferMs },
    });
    this.playback.port.onmessage = (event) => this.onPlayback(event.data);
    this.playback.connect(this.context.destination);
  }

  onCapture(message) {
    if (message.type === "frame") {
      if (this.muted) return;
      this.stats.framesCaptured += 1;
      this.dispatchEvent(new CustomEvent("frame", { detail: message.pcm }));
    } else if (message.type === "level") {
      const level = this.muted ? 0 : message.rms;
      this.stats.level = level;
      this.dispatchEvent(new CustomEvent("level", { detail: { rms: level, peak: message.peak } }));
    }
  }

  onPlayback(message) {
    const playback = this.stats.playback;
    if (message.type === "flushed") {
      playback.flushes.push({
        itemId: message.itemId,
        playedMs: message.playedMs,
        droppedMs: message.droppedMs,
        wasPlaying: message.wasPlaying,
        at: performance.now(),
      });
      if (playback.flushes.length > 50) playback.flushes.shift();
      playback.playing = false;
      this.dispatchEvent(new CustomEvent("flushed", { detail: message }));
      return;
    }
    playback.playing = message.playing;
    playback.itemId = message.itemId;
    playback.playedMs = message.playedMs;
    playback.itemNonSilentSamples = message.itemNonSilentSamples;
    playback.itemPlayedAfterFlush = message.itemPlayedAfterFlush;
    playback.totalPlayedAfterFlush = message.totalPlayedAfterFlush;
    playback.totalNonSilentSamples = message.totalNonSilentSamples;
    playback.totalPlayedSamples = message.totalPlayedSamples;
    playback.bufferedMs = message.bufferedMs;
    playback.underruns = message.underruns;
    playback.lateMs = message.lateMs;
    this.dispatchEvent(new CustomEvent("playback", { detail: message }));
  }

  /** Queue PCM16 (an ArrayBuffer at the session's rate) of output item `itemId`. */
  play(itemId, pcm) {
    if (!this.playback) return;
    this.playback.port.postMessage({ type: "audio", itemId, pcm }, [pcm]);
  }

  /** The item's last audio has arrived: play out whatever is buffered. */
  end(itemId) {
    if (this.playback) this.playback.port.postMessage({ type: "end", itemId });
  }

  /** Stop playing now and drop what is queued (and what is still coming) of `itemId`. */
  flush(itemId) {
    if (this.playback) this.playback.port.postMessage({ type: "flush", itemId });
  }

  setMuted(muted) {
    this.muted = muted;
    if (this.stream) {
      for (const track of this.stream.getAudioTracks()) track.enabled = !muted;
    }
  }

  async stop() {
    if (this.capture) this.capture.port.postMessage({ type: "stop" });
    for (const node of [this.source, this.capture, this.playback]) {
      if (node) node.disconnect();
    }
    if (this.stream) {
      for (const track of this.stream.getTracks()) track.stop();
    }
    const context = this.context;
    this.source = this.capture = this.playback = this.stream = this.context = null;
    if (context && context.state !== "closed") await context.close();
  }
}
