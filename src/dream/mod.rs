//! DeepDream: gradient ascent on the image over an octave pyramid, one step at a time so both
//! faces can draw previews, report progress and stop whenever they like.

mod octaves;
mod params;
mod recipe;
mod rng;
pub mod tiles;

pub use params::{DreamParams, Objective, limits};
pub use rng::Rng;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Tensor;

use crate::Error;
use crate::device::Limits;
use crate::model::GoogLeNet;

/// Where a dream stands, after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Current octave, from 1.
    pub octave: usize,
    /// Octaves this dream runs (may be fewer than asked for a small photo).
    pub octaves: usize,
    /// Steps done in the current octave, from 1.
    pub step: usize,
    /// Steps per octave.
    pub steps: usize,
    /// Steps done in all.
    pub done: usize,
    /// Steps in all.
    pub total: usize,
}

/// A dream in progress: the image stays on the device between steps, and nothing is read back
/// unless the caller asks for [`Dream::preview`] or [`Dream::result`].
pub struct Dream {
    model: GoogLeNet,
    params: DreamParams,
    rng: Rng,
    min: usize,
    tile: usize,
    limits: Limits,
    sizes: Vec<[usize; 2]>,
    details: Vec<Tensor<4>>,
    image: Tensor<4>,
    octave: usize,
    step: usize,
}

impl Dream {
    /// Prepares a dream of `image` ([1, 3, H, W], RGB on 0..255) on the model's device, within
    /// the device's `limits` (they set the tile side). The dream keeps its own handle on the
    /// model (a cheap clone sharing the weights), so a face can hold it across calls.
    pub fn new(
        model: &GoogLeNet,
        image: Tensor<4>,
        params: DreamParams,
        limits: &Limits,
    ) -> Result<Self, Error> {
        params.validate()?;
        let [_, channels, h, w] = image.dims();
        if channels != 3 {
            return Err(Error::Channels(channels));
        }
        let min = params.check_size(w, h)?;
        if (w * h) as u64 > limits.max_pixels() {
            return Err(Error::Device(format!(
                "a {w}×{h} image does not fit this device's largest buffer ({} MiB): lower max-size",
                limits.max_buffer >> 20
            )));
        }
        let tile = tiles::fit_tile(params.tile, params.objective.deepest(), min, limits)?;
        let mut sizes = octaves::sizes([h, w], params.octaves, params.octave_scale, min);
        let (smallest, details) = octaves::decompose(image.without_autodiff(), &sizes);
        sizes.reverse();
        Ok(Self {
            model: model.clone(),
            rng: Rng::new(params.seed),
            params,
            min,
            tile,
            limits: *limits,
            sizes,
            details,
            image: smallest,
            octave: 0,
            step: 0,
        })
    }

    /// The progress so far.
    pub fn progress(&self) -> Progress {
        let steps = self.params.steps;
        Progress {
            octave: self.octave + 1,
            octaves: self.sizes.len(),
            step: self.step,
            steps,
            done: self.octave * steps + self.step,
            total: self.sizes.len() * steps,
        }
    }

    /// The tile side the gradient runs on: the recipe's, or less where the device needs it.
    pub fn tile(&self) -> usize {
        self.tile
    }

    /// Whether every step has run.
    pub fn is_finished(&self) -> bool {
        self.octave + 1 == self.sizes.len() && self.step == self.params.steps
    }

    /// Runs one gradient step (moving up an octave first when the current one is done).
    /// Returns the progress after it, or `None` when the dream was already finished.
    pub fn step(&mut self) -> Result<Option<Progress>, Error> {
        if self.is_finished() {
            return Ok(None);
        }
        if self.step == self.params.steps {
            let detail = self.details[self.octave].clone();
            self.octave += 1;
            self.step = 0;
            self.image = octaves::resize(self.image.clone(), self.sizes[self.octave]) + detail;
        }
        let p = &self.params;
        let (dy, dx) = (self.rng.symmetric(p.jitter), self.rng.symmetric(p.jitter));
        let rolled = self.image.clone().roll(&[dy, dx], &[2, 3]);
        let grad = tiles::gradient(
            &self.model,
            &rolled,
            &p.objective,
            self.tile,
            self.min,
            &self.limits,
            &mut self.rng,
        )?
        .roll(&[-dy, -dx], &[2, 3]);
        let scale = mean_abs(grad.clone()).add_scalar(1e-7).recip() * p.step_size;
        self.image = (self.image.clone() + grad * scale).clamp(0.0, 255.0);
        self.step += 1;
        Ok(Some(self.progress()))
    }

    /// The image as it is now, at the current octave's size: cheap, for previews.
    pub fn preview(&self) -> Tensor<4> {
        self.image.clone()
    }

    /// The image as it is now, brought up to the photo's full size with the detail of the
    /// octaves not yet dreamed: the final result when finished, the result so far when stopped.
    pub fn result(&self) -> Tensor<4> {
        let mut img = self.image.clone();
        let mut octave = self.octave;
        while octave + 1 < self.sizes.len() {
            img = octaves::resize(img, self.sizes[octave + 1]) + self.details[octave].clone();
            octave += 1;
        }
        img.clamp(0.0, 255.0)
    }
}

/// Mean absolute value of `g` as [1, 1, 1, 1], summed row by row, then over rows and channels:
/// one flat sum over a big image loses precision on some backends.
fn mean_abs(g: Tensor<4>) -> Tensor<4> {
    let numel = g.shape().num_elements() as f32;
    g.abs().sum_dim(3).sum_dim(2).sum_dim(1) / numel
}

/// Gradient of `objective` with respect to `image` ([1, 3, H, W]) in one pass over the whole
/// image: no jitter, no tiles. What every step builds on, exposed for checking against references.
pub fn gradient(
    model: &GoogLeNet,
    image: &Tensor<4>,
    objective: &Objective,
) -> Result<Tensor<4>, Error> {
    let [_, _, h, w] = image.dims();
    let whole = Limits {
        max_buffer: u64::MAX,
        pass_budget: u64::MAX,
    };
    tiles::gradient(
        model,
        image,
        objective,
        h.max(w),
        1,
        &whole,
        &mut Rng::new(0),
    )
}

/// Runs a whole dream, calling `on_step` after every step; stops early, keeping the result so
/// far, once `cancel` is set. For callers that may block (the command line, tests).
pub fn run(
    model: &GoogLeNet,
    image: Tensor<4>,
    params: DreamParams,
    limits: &Limits,
    cancel: &AtomicBool,
    mut on_step: impl FnMut(&Dream, Progress),
) -> Result<Tensor<4>, Error> {
    let mut dream = Dream::new(model, image, params, limits)?;
    while !cancel.load(Ordering::Relaxed) {
        match dream.step()? {
            Some(progress) => on_step(&dream, progress),
            None => break,
        }
    }
    Ok(dream.result())
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, TensorData};

    use super::*;

    #[test]
    fn mean_abs_stays_exact_on_a_12_megapixel_gradient() {
        let (h, w) = (3000, 4000);
        // Values with a known mean: |v| cycles through 0.1, 0.2, ... 1.0.
        let values: Vec<f32> = (0..3 * h * w)
            .map(|i| ((i % 10) as f32 + 1.0) / 10.0 * if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        let exact: f64 = values.iter().map(|v| v.abs() as f64).sum::<f64>() / values.len() as f64;
        let g = Tensor::<4>::from_data(TensorData::new(values, [1, 3, h, w]), &Device::flex());
        let got = mean_abs(g).into_data().try_to_vec::<f32>().unwrap()[0] as f64;
        assert!((got - exact).abs() / exact < 1e-5, "{got} vs {exact}");
    }
}
