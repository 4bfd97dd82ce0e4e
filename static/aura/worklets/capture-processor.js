// AURA widget: microphone capture. Runs on the audio rendering thread.
//
// Takes the microphone at the AudioContext's rate, resamples it to the session's rate,
// converts it to PCM16 little endian and posts one frame of `frameMs` at a time to the main
// thread (which sends it as a binary WebSocket frame). Also posts the input level (RMS, peak)
// a few times a second for the meter.

import { PcmResampler } from "./resampler.js";

class AuraCaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate, frameMs = 20, levelIntervalMs = 50 } = options.processorOptions;
    this.resampler = new PcmResampler(sampleRate, targetRate);
    this.frameSamples = Math.round((targetRate * frameMs) / 1000);
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.levelEvery = Math.round((sampleRate * levelIntervalMs) / 1000);
    this.levelSamples = 0;
    this.levelSquares = 0;
    this.levelPeak = 0;
    this.emit = (value) => this.push(value);
    this.port.onmessage = (event) => {
      if (event.data && event.data.type === "stop") this.stopped = true;
    };
  }

  push(value) {
    const clamped = value > 1 ? 1 : value < -1 ? -1 : value;
    this.frame[this.filled++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    if (this.filled === this.frameSamples) {
      const buffer = this.frame.buffer;
      this.port.postMessage({ type: "frame", pcm: buffer }, [buffer]);
      this.frame = new Int16Array(this.frameSamples);
      this.filled = 0;
    }
  }

  measure(channel) {
    for (let i = 0; i < channel.length; i++) {
      const value = channel[i];
      this.levelSquares += value * value;
      const magnitude = value < 0 ? -value : value;
      if (magnitude > this.levelPeak) this.levelPeak = magnitude;
    }
    this.levelSamples += channel.length;
    if (this.levelSamples >= this.levelEvery) {
      this.port.postMessage({
        type: "level",
        rms: Math.sqrt(this.levelSquares / this.levelSamples),
        peak: this.levelPeak,
      });
      this.levelSamples = 0;
      this.levelSquares = 0;
      this.levelPeak = 0;
    }
  }

  process(inputs) {
    if (this.stopped) return false;
    const input = inputs[0];
    // No input connected yet (or the track ended): keep the node alive, send nothing.
    if (!input || input.length === 0) return true;
    const channel = input[0];
    this.measure(channel);
    this.resampler.process(channel, this.emit);
    return true;
  }
}

registerProcessor("aura-capture", AuraCaptureProcessor);
