//! Motion: each frame of an infinite zoom is the last frame zoomed in and turned about its
//! centre, then dreamed a little more, so the dream keeps growing out of itself.

use image::RgbImage;

/// `image` zoomed by `zoom` (above 1 enlarges) and turned by `degrees` (positive: clockwise on
/// screen) about its centre, sampled bilinearly; where the turned or shrunken picture leaves
/// the frame, the edges are filled by reflecting it, so there is no border to dream into.
pub fn zoom_rotate(image: &RgbImage, zoom: f32, degrees: f32) -> RgbImage {
    let (w, h) = image.dimensions();
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    let (sin, cos) = degrees.to_radians().sin_cos();
    let at = |x: usize, y: usize, c: usize| image.get_pixel(x as u32, y as u32)[c] as f32;
    RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        // The output pixel shows the source point turned back and scaled down.
        let sx = reflect(cx + (cos * dx + sin * dy) / zoom, w as usize);
        let sy = reflect(cy + (-sin * dx + cos * dy) / zoom, h as usize);
        let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(w as usize - 1), (y0 + 1).min(h as usize - 1));
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        image::Rgb(std::array::from_fn(|c| {
            let top = at(x0, y0, c) * (1.0 - fx) + at(x1, y0, c) * fx;
            let bottom = at(x0, y1, c) * (1.0 - fx) + at(x1, y1, c) * fx;
            (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
        }))
    })
}

/// A coordinate folded back into `0..=n-1` by mirroring at the image's edges (half a pixel
/// out), as numpy's "reflect" padding extends a picture.
fn reflect(v: f32, n: usize) -> f32 {
    let n = n as f32;
    let period = 2.0 * n;
    let mut t = (v + 0.5).rem_euclid(period);
    if t >= n {
        t = period - t;
    }
    (t - 0.5).clamp(0.0, n - 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
        })
    }

    #[test]
    fn no_zoom_and_no_turn_is_the_image_itself() {
        let img = ramp(31, 20);
        assert_eq!(zoom_rotate(&img, 1.0, 0.0), img);
    }

    #[test]
    fn zooming_in_enlarges_about_the_centre_and_a_half_turn_flips() {
        let img = ramp(33, 21);
        let zoomed = zoom_rotate(&img, 2.0, 0.0);
        // The centre stays; a point 8 px right of it shows what was 4 px right.
        assert_eq!(zoomed.get_pixel(16, 10), img.get_pixel(16, 10));
        assert_eq!(zoomed.get_pixel(24, 10), img.get_pixel(20, 10));
        let flipped = zoom_rotate(&img, 1.0, 180.0);
        assert_eq!(flipped.get_pixel(0, 0), img.get_pixel(32, 20));
        assert_eq!(flipped.get_pixel(5, 3), img.get_pixel(27, 17));
    }

    #[test]
    fn zooming_out_fills_the_border_by_reflection() {
        let img = ramp(20, 20);
        let out = zoom_rotate(&img, 0.5, 0.0);
        // The corner reads 2× as far from the centre: beyond the edge, mirrored back inside.
        let corner = out.get_pixel(0, 0);
        assert_ne!(corner.0, [0, 0, 0]);
        assert!(corner[0] > 0 && corner[0] < 7 * 20);
    }
}
