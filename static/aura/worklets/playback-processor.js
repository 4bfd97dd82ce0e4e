// AURA widget: playback of the assistant's audio. Runs on the audio rendering thread.
//
// The main thread posts PCM16 chunks at the session's rate, each tagged with the output item
// it belongs to. They are resampled to the context's rate into a small jitter buffer: playback
// starts once `prebufferMs` is buffered (or the item's audio is complete), and after an
// underrun it waits for the buffer to refill. A `flush` drops everything queued before the
// next render quantum (128 samples, under 3 ms), so an interruption stops the voice at once.
//
// The processor reports how far each item has played (`position`), which the widget relays to
// the server (`aura.playback.position`) so a barge-in truncates the transcript to what was
// really heard; and it counts non-silent samples actually rendered, which tests read.

import { PcmResampler } from "./resampler.js";

// Samples above this magnitude (about -60 dBFS) count as sound rather than silence.
const SILENCE_THRESHOLD = 0.001;

class ItemPlayback {
  constructor(itemId, sessionRate) {
    this.itemId = itemId;
    this.resampler = new PcmResampler(sessionRate, sampleRate);
    this.receivedSamples = 0; // at the context's rate
    this.playedSamples = 0;
    this.nonSilentSamples = 0;
    this.playedAfterFlush = 0;
    this.droppedSamples = 0;
    this.complete = false; // the server sent the item's last audio
    this.flushed = false;
  }
}

class AuraPlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { sessionRate, prebufferMs = 60, reportIntervalMs = 100 } = options.processorOptions;
    this.sessionRate = sessionRate;
    this.prebufferSamples = Math.round((sampleRate * prebufferMs) / 1000);
    this.reportEvery = Math.round((sampleRate * reportIntervalMs) / 1000);
    this.sinceReport = 0;
    this.queue = []; // {item, samples: Float32Array, offset}
    this.bufferedSamples = 0;
    this.playing = false;
    this.items = new Map();
    this.current = null; // the item playing (or last played)
    this.totalNonSilentSamples = 0;
    this.totalPlayedSamples = 0;
    this.totalPlayedAfterFlush = 0;
    this.underruns = 0;
    // Samples of silence played while an item's audio was due but had not arrived.
    this.lateSamples = 0;
    this.port.onmessage = (event) => this.receive(event.data);
  }

  item(itemId) {
    let item = this.items.get(itemId);
    if (item === undefined) {
      item = new ItemPlayback(itemId, this.sessionRate);
      this.items.set(itemId, item);
      // Keep the bookkeeping small in long conversations.
      if (this.items.size > 64) this.items.delete(this.items.keys().next().value);
    }
    return item;
  }

  receive(message) {
    if (message.type === "audio") this.enqueue(message.itemId, new Int16Array(message.pcm));
    else if (message.type === "end") this.item(message.itemId).complete = true;
    else if (message.type === "flush") this.flush(message.itemId);
  }

  enqueue(itemId, pcm) {
    const item = this.item(itemId);
    if (item.flushed) {
      // Audio of an interrupted item still in flight: never play it.
      item.droppedSamples += Math.round((pcm.length * sampleRate) / this.sessionRate);
      return;
    }
    const samples = new Float32Array(Math.ceil((pcm.length * sampleRate) / this.sessionRate) + 2);
    let written = 0;
    const input = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) input[i] = pcm[i] / 0x8000;
    item.resampler.process(input, (value) => {
      samples[written++] = value;
    });
    if (written === 0) return;
    this.queue.push({ item, samples: samples.subarray(0, written), offset: 0 });
    this.bufferedSamples += written;
    item.receivedSamples += written;
  }

  flush(itemId) {
    // Everything queued goes, whatever its item; the named item (or the one playing) is
    // marked so that its frames still on the way are dropped too.
    const dropped = new Map();
    for (const chunk of this.queue) {
      const left = chunk.samples.length - chunk.offset;
      chunk.item.droppedSamples += left;
      chunk.item.flushed = true;
      dropped.set(chunk.item.itemId, (dropped.get(chunk.item.itemId) || 0) + left);
    }
    this.queue = [];
    this.bufferedSamples = 0;
    const target = itemId ? this.item(itemId) : this.current;
    if (target) target.flushed = true;
    const wasPlaying = this.playing;
    this.playing = false;
    const reported = target || this.current;
    this.port.postMessage({
      type: "flushed",
      itemId: reported ? reported.itemId : null,
      playedMs: reported ? (reported.playedSamples * 1000) / sampleRate : 0,
      droppedMs: reported ? ((dropped.get(reported.itemId) || 0) * 1000) / sampleRate : 0,
      wasPlaying,
    });
    if (wasPlaying) this.report("stopped");
  }

  canStart() {
    if (this.queue.length === 0) return false;
    if (this.bufferedSamples >= this.prebufferSamples) return true;
    // A short or final stretch: everything that will come has come.
    return this.queue[this.queue.length - 1].item.complete;
  }

  process(inputs, outputs) {
    const output = outputs[0];
    const channel = output[0];
    const frames = channel.length;
    let written = 0;
    if (!this.playing && this.current && !this.current.complete && !this.current.flushed) {
      this.lateSamples += frames;
    }
    if (!this.playing && this.canStart()) {
      this.playing = true;
      this.report("started");
    }
    while (this.playing && written < frames) {
      const chunk = this.queue[0];
      if (chunk === undefined) {
        // Ran dry: the item is over, or the network is late (an underrun).
        this.playing = false;
        if (this.current && !this.current.complete) this.underruns += 1;
        this.report(this.current && this.current.complete ? "drained" : "underrun");
        break;
      }
      const item = chunk.item;
      this.current = item;
      const count = Math.min(frames - written, chunk.samples.length - chunk.offset);
      for (let i = 0; i < count; i++) {
        const value = chunk.samples[chunk.offset + i];
        channel[written + i] = value;
        if (value > SILENCE_THRESHOLD || value < -SILENCE_THRESHOLD) {
          item.nonSilentSamples += 1;
          this.totalNonSilentSamples += 1;
        }
      }
      if (item.flushed) {
        item.playedAfterFlush += count;
        this.totalPlayedAfterFlush += count;
      }
      item.playedSamples += count;
      this.totalPlayedSamples += count;
      chunk.offset += count;
      written += count;
      this.bufferedSamples -= count;
      if (chunk.offset >= chunk.samples.length) this.queue.shift();
    }
    channel.fill(0, written);
    for (let c = 1; c < output.length; c++) output[c].set(channel);
    this.sinceReport += frames;
    if (this.playing && this.sinceReport >= this.reportEvery) this.report("position");
    return true;
  }

  report(kind) {
    this.sinceReport = 0;
    const item = this.current;
    this.port.postMessage({
      type: kind,
      playing: this.playing,
      itemId: item ? item.itemId : null,
      playedMs: item ? (item.playedSamples * 1000) / sampleRate : 0,
      itemNonSilentSamples: item ? item.nonSilentSamples : 0,
      itemPlayedAfterFlush: item ? item.playedAfterFlush : 0,
      totalPlayedAfterFlush: this.totalPlayedAfterFlush,
      totalNonSilentSamples: this.totalNonSilentSamples,
      totalPlayedSamples: this.totalPlayedSamples,
      bufferedMs: (this.bufferedSamples * 1000) / sampleRate,
      underruns: this.underruns,
      lateMs: (this.lateSamples * 1000) / sampleRate,
    });
  }
}

registerProcessor("aura-playback", AuraPlaybackProcessor);
