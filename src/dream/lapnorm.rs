//! Laplacian-pyramid normalisation of the gradient, as the TensorFlow DeepDream notebook's
//! `lap_normalize`: the gradient is split into frequency bands, each band is divided by its own
//! root mean square, and the bands are merged again. Low frequencies, which a raw gradient
//! barely holds, then move the image as much as high ones: features come out as clear shapes
//! instead of pixel noise, most visibly in a dream from noise.

use burn::tensor::module::{conv_transpose2d, conv2d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Tensor, TensorData};

/// The 5-tap binomial blur, as the notebook's `k5x5`: one [1, 5, 5] filter per RGB channel.
fn blur_kernel(gain: f32, device: &burn::tensor::Device) -> Tensor<4> {
    let taps = [1.0f32, 4.0, 6.0, 4.0, 1.0];
    let norm = 256.0 / gain;
    let one: Vec<f32> = taps
        .iter()
        .flat_map(|a| taps.iter().map(move |b| a * b / norm))
        .collect();
    let data: Vec<f32> = (0..3).flat_map(|_| one.iter().copied()).collect();
    Tensor::from_data(TensorData::new(data, [3, 1, 5, 5]), device)
}

/// Blur and halve: the next level down.
fn down(x: Tensor<4>) -> Tensor<4> {
    let kernel = blur_kernel(1.0, &x.device());
    conv2d(x, kernel, None, ConvOptions::new([2, 2], [2, 2], [1, 1], 3))
}

/// Double and blur (the kernel ×4 keeps the mean), to `[h, w]`.
fn up(x: Tensor<4>, [h, w]: [usize; 2]) -> Tensor<4> {
    let [_, _, lh, lw] = x.dims();
    // A stride-2 transposed convolution with padding 2 gives 2·n − 1; one more row or column
    // where the finer level is even.
    let extra = [h + 1 - 2 * lh, w + 1 - 2 * lw];
    let kernel = blur_kernel(4.0, &x.device());
    conv_transpose2d(
        x,
        kernel,
        None,
        ConvTransposeOptions::new([2, 2], [2, 2], extra, [1, 1], 3),
    )
}

/// Divides each image of `x` by its root mean square, unless that is ~0.
fn normalize_std(x: Tensor<4>) -> Tensor<4> {
    let rms = x
        .clone()
        .square()
        .mean_dim(3)
        .mean_dim(2)
        .mean_dim(1)
        .sqrt()
        .clamp_min(1e-10);
    x / rms
}

/// `grad` ([N, 3, H, W], each image on its own) with each of `levels` Laplacian bands, and the low-pass rest, at unit
/// root mean square. A level stops the split early once a side would fall below 2 px.
pub fn normalize(grad: Tensor<4>, levels: usize) -> Tensor<4> {
    let mut bands = Vec::with_capacity(levels);
    let mut low = grad;
    for _ in 0..levels {
        let [_, _, h, w] = low.dims();
        if h < 4 || w < 4 {
            break;
        }
        let lo = down(low.clone());
        let hi = low - up(lo.clone(), [h, w]);
        bands.push(hi);
        low = lo;
    }
    let mut img = normalize_std(low);
    while let Some(hi) = bands.pop() {
        let [_, _, h, w] = hi.dims();
        img = up(img, [h, w]) + normalize_std(hi);
    }
    img
}

#[cfg(test)]
mod tests {
    use burn::tensor::Device;

    use super::*;

    fn values(x: Tensor<4>) -> Vec<f32> {
        x.into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn splitting_and_merging_without_normalising_gives_the_input_back() {
        let device = Device::flex();
        for [h, w] in [[16usize, 16], [17, 23]] {
            let data: Vec<f32> = (0..3 * h * w)
                .map(|i| ((i * 37 % 101) as f32) - 50.0)
                .collect();
            let x = Tensor::<4>::from_data(TensorData::new(data.clone(), [1, 3, h, w]), &device);
            let lo = down(x.clone());
            assert_eq!(lo.dims(), [1, 3, h.div_ceil(2), w.div_ceil(2)]);
            let hi = x - up(lo.clone(), [h, w]);
            let back = values(up(lo, [h, w]) + hi);
            for (a, b) in back.iter().zip(&data) {
                assert!((a - b).abs() < 1e-3, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn a_faint_low_frequency_is_lifted_to_the_level_of_a_strong_fine_one() {
        // A slow ramp (amplitude 1) under a checkerboard (amplitude 100): normalised, the ramp
        // holds about as much energy as the checkerboard, where before it held 1/10000 of it.
        let device = Device::flex();
        let (h, w) = (32, 32);
        let ramp = |x: usize| (x as f32 / w as f32 - 0.5) * 2.0;
        let data: Vec<f32> = (0..3 * h * w)
            .map(|i| {
                let (y, x) = ((i / w) % h, i % w);
                ramp(x) + if (x + y) % 2 == 0 { 100.0 } else { -100.0 }
            })
            .collect();
        let g = Tensor::<4>::from_data(TensorData::new(data, [1, 3, h, w]), &device);
        let out = values(normalize(g, 4));
        // The ramp is what survives averaging each pair of columns (the checkerboard cancels).
        let pair_mean = |v: &[f32], y: usize, x: usize| (v[y * w + x] + v[y * w + x + 1]) / 2.0;
        let slope: f32 = (0..h)
            .map(|y| pair_mean(&out, y, w - 2) - pair_mean(&out, y, 0))
            .sum::<f32>()
            / h as f32;
        let checker: f32 = (0..h)
            .map(|y| (out[y * w + 8] - out[y * w + 9]).abs() / 2.0)
            .sum::<f32>()
            / h as f32;
        assert!(
            checker > 0.0 && slope.abs() > 0.05 * checker,
            "slope {slope}, checker {checker}"
        );
    }
}
