// An animation as a video file: the browser's own encoder (WebCodecs) makes the frames, and
// mediabunny (npm, copied into the site by `make dist`, never fetched from elsewhere) puts them
// in an MP4 (H.264) or WebM (VP9, AV1) container, whichever this browser can encode.
import {
  BufferTarget, Mp4OutputFormat, Output, QUALITY_HIGH, VideoSample, VideoSampleSource, WebMOutputFormat,
  getFirstEncodableVideoCodec,
} from '../node_modules/mediabunny/dist/bundles/mediabunny.min.mjs';

/** Whether this browser can encode video at all (WebCodecs' VideoEncoder). */
export const canEncode = () => typeof VideoEncoder !== 'undefined';

/**
 * A video of `width`×`height` at `fps` frames per second, to which frames (ImageData) are added
 * one at a time, with `recipe` in its metadata (its comment); `null` when no codec this browser
 * has can encode that size.
 */
export async function videoWriter(width, height, fps, recipe) {
  if (!canEncode()) return null;
  const codec = await getFirstEncodableVideoCodec(['avc', 'vp9', 'av1'], { width, height, frameRate: fps });
  if (!codec) return null;
  const mp4 = codec === 'avc';
  const type = mp4 ? 'video/mp4' : 'video/webm';
  const output = new Output({
    format: mp4 ? new Mp4OutputFormat({ fastStart: 'in-memory' }) : new WebMOutputFormat(),
    target: new BufferTarget(),
  });
  const source = new VideoSampleSource({ codec, bitrate: QUALITY_HIGH, keyFrameInterval: 2 });
  output.addVideoTrack(source, { frameRate: fps });
  // The recipe reproduces the animation, as a PNG's reproduces a picture.
  output.setMetadataTags({ comment: `deepdream ${recipe}`, description: 'DeepDream infinite zoom' });
  await output.start();
  let frames = 0;
  return {
    codec,
    extension: mp4 ? 'mp4' : 'webm',
    get frames() {
      return frames;
    },
    async add(image) {
      const frame = new VideoFrame(image.data, {
        format: 'RGBA',
        codedWidth: image.width,
        codedHeight: image.height,
        timestamp: Math.round((frames * 1e6) / fps),
        duration: Math.round(1e6 / fps),
      });
      const sample = new VideoSample(frame);
      try {
        await source.add(sample);
      } finally {
        sample.close();
      }
      frames++;
    },
    async finish() {
      await output.finalize();
      return new Blob([output.target.buffer], { type });
    },
  };
}
