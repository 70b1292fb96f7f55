// An animation on the page's side: every finished frame is kept (its PNG) and handed to the
// video encoder as it comes. At the end, or when the engine fails mid-way, the frames become a
// video, or a ZIP of the PNGs whenever no video can be made, with the reason: a finished frame
// is never lost with the worker that made it.
import { zip } from './zip.mjs';

// The video module (and the muxer it carries) loads only when an animation is made.
const videoModule = () => import('./video.mjs');

export class Movie {
  /** A movie of `width`×`height` at `fps`, with `recipe` in the video's metadata. */
  constructor(width, height, fps, recipe) {
    this.pngs = [];
    this.why = null; // why there is no video, once that is known
    const encoder = typeof VideoEncoder === 'undefined'
      ? Promise.reject(new Error('this browser cannot encode video (it has no WebCodecs VideoEncoder)'))
      : videoModule().then(async (m) => {
        const writer = await m.videoWriter(width, height, fps, recipe);
        if (!writer) throw new Error(`no video encoder of this browser takes ${width}×${height} frames`);
        return writer;
      });
    // Frames reach the encoder in order; after a failure the rest only go to the ZIP.
    this.added = encoder.catch((error) => this.fail(error.message));
  }

  fail(why) {
    this.why ??= why;
    return null;
  }

  /** A finished frame: its pixels (ImageData) for the video, its PNG bytes for the ZIP. */
  add(image, png) {
    this.pngs.push(new Blob([png], { type: 'image/png' }));
    const index = this.pngs.length;
    this.added = this.added.then(async (writer) => {
      if (!writer) return null;
      try {
        await writer.add(image);
        return writer;
      } catch (error) {
        return this.fail(`the video encoder failed at frame ${index} (${error.message})`);
      }
    });
  }

  get frames() {
    return this.pngs.length;
  }

  /**
   * The frames as one file: `{ blob, extension }` for a video, `{ blob, extension: 'zip', why }`
   * when no video could be made; `null` when there is no frame.
   */
  async finish() {
    if (!this.pngs.length) return null;
    const writer = await this.added;
    if (writer) {
      try {
        return { blob: await writer.finish(), extension: writer.extension };
      } catch (error) {
        this.fail(`the video could not be finished (${error.message})`);
      }
    }
    const files = this.pngs.map((blob, i) => ({ name: `frame-${String(i + 1).padStart(4, '0')}.png`, blob }));
    return { blob: await zip(files), extension: 'zip', why: this.why };
  }
}
