// The app's icon, drawn here at build time: an eye whose iris is a DeepDream-like spiral of
// colour, on a dark field with faint rings. Full-bleed, so it also serves as a maskable icon.
import { writePng } from './png.mjs';

const hsv = (h, s, v) => {
  const f = (n) => {
    const k = (n + h * 6) % 6;
    return v - v * s * Math.max(0, Math.min(k, 4 - k, 1));
  };
  return [f(5), f(3), f(1)];
};
const mix = (a, b, t) => a.map((x, i) => x + (b[i] - x) * t);
const smooth = (edge, width, x) => Math.min(1, Math.max(0, (edge - x) / width + 0.5)); // 1 inside

// The colour at (x, y) in [-1, 1]², y down; `px` is one pixel in those units, for antialiasing.
function shade(x, y, px) {
  const r = Math.hypot(x, y);
  const a = Math.atan2(y, x);
  // Field: deep violet to near black, with spiral rings that fade outwards.
  let c = mix([0.16, 0.07, 0.3], [0.03, 0.02, 0.06], Math.min(1, r / 1.3));
  const rings = 0.5 + 0.5 * Math.sin(r * 26 - a * 2);
  c = mix(c, hsv((r * 0.6 + a / (2 * Math.PI) + 1) % 1, 0.7, 0.55), 0.22 * rings * Math.max(0, 1 - r / 1.4));
  // The eye: the lens between two circles, white shading to lilac at its corners.
  const d = 0.62;
  const R = 1.05;
  const lens = Math.min(smooth(R, px, Math.hypot(x, y - d)), smooth(R, px, Math.hypot(x, y + d)));
  c = mix(c, mix([0.97, 0.95, 1], [0.72, 0.62, 0.9], Math.min(1, Math.abs(x) / 0.8)), lens);
  // The iris: bands of hue that wind inwards, darker at the rim.
  const ri = 0.36;
  const hue = (a / (2 * Math.PI) + r * 2.2 + 1) % 1;
  const band = 0.55 + 0.45 * Math.sin(a * 7 + r * 40);
  const iris = mix(hsv(hue, 0.85, 0.95 * band + 0.05), [0.08, 0.03, 0.12], Math.max(0, (r - ri * 0.7) / (ri * 0.3)) ** 2);
  c = mix(c, iris, smooth(ri, px, r) * lens);
  // The pupil, and a highlight.
  c = mix(c, [0.02, 0.01, 0.03], smooth(0.13, px, r));
  c = mix(c, [1, 1, 1], 0.9 * smooth(0.045, px, Math.hypot(x + 0.1, y + 0.1)));
  return c;
}

/** The icon as PNG bytes, `size` px square (4×4 samples per pixel). */
export function icon(size) {
  const out = new Uint8Array(size * size * 3);
  const px = 2 / size;
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      let sum = [0, 0, 0];
      for (let s = 0; s < 16; s++) {
        const x = -1 + (i + ((s % 4) + 0.5) / 4) * px;
        const y = -1 + (j + (Math.floor(s / 4) + 0.5) / 4) * px;
        sum = sum.map((v, k) => v + shade(x * 1.25, y * 1.25, px * 1.25)[k]);
      }
      for (let k = 0; k < 3; k++) out[(j * size + i) * 3 + k] = Math.round(Math.min(1, Math.max(0, sum[k] / 16)) * 255);
    }
  }
  return writePng(size, size, out);
}
