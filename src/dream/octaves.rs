//! The image pyramid: sizes, bilinear resizing, and the high-frequency detail that each larger
//! octave gets back after the smaller one has dreamed.

use burn::tensor::Tensor;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

/// Octave sizes, largest (the photo's own) first: each is the previous divided by `scale`,
/// truncated. Levels smaller than `min` on either side are left out: they cannot reach the layer.
pub fn sizes(base: [usize; 2], octaves: usize, scale: f32, min: usize) -> Vec<[usize; 2]> {
    let mut sizes = vec![base];
    for _ in 1..octaves {
        let [h, w] = *sizes.last().expect("starts with the base size");
        let next = [
            (h as f64 / scale as f64) as usize,
            (w as f64 / scale as f64) as usize,
        ];
        if next[0] < min || next[1] < min {
            break;
        }
        sizes.push(next);
    }
    sizes
}

/// Bilinear resize with half-pixel centres and no anti-aliasing, as the reference notebooks do.
pub fn resize(x: Tensor<4>, [h, w]: [usize; 2]) -> Tensor<4> {
    let [_, _, h0, w0] = x.dims();
    if [h0, w0] == [h, w] {
        return x;
    }
    interpolate(
        x,
        InterpolateOptions::new(InterpolateMode::Bilinear)
            .with_align_corners(false)
            .with_output_size([h, w]),
    )
}

/// Splits `image` into its smallest octave and, for every larger one, the detail lost by going
/// down to the next size: `hi = img − resize(resize(img, lo), hi_size)`. Details come back
/// smallest first, ready to be re-injected in dreaming order.
pub fn decompose(image: Tensor<4>, sizes: &[[usize; 2]]) -> (Tensor<4>, Vec<Tensor<4>>) {
    let mut img = image;
    let mut details = Vec::with_capacity(sizes.len().saturating_sub(1));
    for pair in sizes.windows(2) {
        let lo = resize(img.clone(), pair[1]);
        details.push(img - resize(lo.clone(), pair[0]));
        img = lo;
    }
    details.reverse();
    (img, details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_truncate_and_stop_above_the_minimum() {
        assert_eq!(
            sizes([120, 160], 3, 1.4, 10),
            vec![[120, 160], [85, 114], [60, 81]]
        );
        assert_eq!(
            sizes([120, 160], 4, 1.4, 60),
            vec![[120, 160], [85, 114], [60, 81]]
        );
        assert_eq!(sizes([120, 160], 1, 1.4, 10), vec![[120, 160]]);
    }
}
