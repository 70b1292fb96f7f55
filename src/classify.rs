//! ImageNet classification: the quickest proof that the weights loaded right.

use burn::tensor::Device;
use image::RgbImage;
use image::imageops::FilterType;

use crate::Error;
use crate::model::{Blob, GoogLeNet, Labels};

/// The input side GoogLeNet was trained at.
pub const INPUT: u32 = 224;

/// One scored class.
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    /// ImageNet class index, 0..1000.
    pub index: usize,
    /// Softmax probability.
    pub probability: f32,
    /// Human-readable label.
    pub label: String,
}

/// The `top` most likely classes of `rgb`, resized (anti-aliased) to 224×224.
pub async fn classify(
    model: &GoogLeNet,
    labels: &Labels,
    rgb: &RgbImage,
    top: usize,
    device: &Device,
) -> Result<Vec<Class>, Error> {
    let resized = image::imageops::resize(rgb, INPUT, INPUT, FilterType::Triangle);
    let input = crate::image_io::to_tensor(&resized, device);
    let scores = model.forward(input, &[Blob::Classifier])?.remove(0);
    let data = scores
        .into_data_async()
        .await
        .map_err(|e| Error::Device(format!("could not read the scores back: {e:?}")))?;
    let logits = data
        .as_slice::<f32>()
        .map_err(|e| Error::Device(format!("unexpected score data: {e:?}")))?;
    Ok(softmax_top(logits, top)
        .into_iter()
        .map(|(index, probability)| Class {
            index,
            probability,
            label: labels.name(index).to_string(),
        })
        .collect())
}

/// Softmax (computed in f64 for stability) and the `top` largest, most likely first.
fn softmax_top(logits: &[f32], top: usize) -> Vec<(usize, f32)> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let exp: Vec<f64> = logits.iter().map(|&l| (l as f64 - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    let mut ranked: Vec<(usize, f32)> = exp.iter().map(|e| (e / sum) as f32).enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(top);
    ranked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_ranks_and_normalises() {
        let top = softmax_top(&[1.0, 3.0, 2.0], 3);
        assert_eq!(top.iter().map(|t| t.0).collect::<Vec<_>>(), vec![1, 2, 0]);
        let sum: f32 = top.iter().map(|t| t.1).sum();
        assert!((sum - 1.0).abs() < 1e-6);
        assert!((top[0].1 - 0.665_240_9).abs() < 1e-6);
    }
}
