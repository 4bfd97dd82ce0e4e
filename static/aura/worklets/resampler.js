// AURA widget: a streaming PCM resampler shared by the capture and playback worklets.
//
// Averages the input over each output sample's span when downsampling (a box filter, enough
// against aliasing for speech) and interpolates linearly when upsampling. Its state carries
// across calls, so chunk boundaries leave no clicks and no drift.

export class PcmResampler {
  constructor(fromRate, toRate) {
    this.step = fromRate / toRate; // input samples per output sample
    // Downsampling: input consumed towards the next output sample, and its running sum.
    this.consumed = 0;
    this.sum = 0;
    this.count = 0;
    // Upsampling: where the next output falls between the previous and the next input sample.
    this.phase = 0;
    this.previous = 0;
  }

  process(input, emit) {
    if (this.step === 1) {
      for (let i = 0; i < input.length; i++) emit(input[i]);
    } else if (this.step > 1) {
      for (let i = 0; i < input.length; i++) {
        this.sum += input[i];
        this.count += 1;
        this.consumed += 1;
        if (this.consumed >= this.step) {
          emit(this.sum / this.count);
          this.consumed -= this.step;
          this.sum = 0;
          this.count = 0;
        }
      }
    } else {
      for (let i = 0; i < input.length; i++) {
        const from = this.previous;
        const to = input[i];
        while (this.phase < 1) {
          emit(from + (to - from) * this.phase);
          this.phase += this.step;
        }
        this.phase -= 1;
        this.previous = to;
      }
    }
  }
}
