//! DeepDream: gradient ascent on the image over an octave pyramid, one step at a time so both
//! faces can draw previews, report progress and stop whenever they like.

pub mod gallery;
pub mod lapnorm;
pub mod motion;
mod objective;
mod octaves;
mod params;
pub mod query;
pub mod recipe;
mod rng;
pub mod tiles;

pub use gallery::noise;
pub use objective::{GUIDE_SIDE, Guide, Objective};
pub use params::{DreamParams, NOISE_LAPNORM, Start};
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
    /// Pixels dreamed so far, one step of one pixel each: the work done. An octave has about
    /// twice the pixels of the one before, so this, not `done`, says how long the rest takes.
    pub work_done: u64,
    /// Pixels to dream in all, counted the same way.
    pub work_total: u64,
    /// Current pass (from 1) of a recipe with several.
    pub pass: usize,
    /// Passes in all.
    pub passes: usize,
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
    /// The detail each larger octave gets back, smallest first; dropped once re-injected, so a
    /// big photo's full-size detail does not stay on the device through the last octave. A
    /// dream from noise has none: each octave only scales the last one up, as the notebook's
    /// `render_multiscale` does, instead of bringing the fine noise back.
    details: Vec<Option<Tensor<4>>>,
    guide: Option<Guide>,
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
            return Err(Error::DeviceLimit(format!(
                "a {w}×{h} image does not fit this device's largest buffer ({} MiB): lower max-size",
                limits.max_buffer >> 20
            )));
        }
        let tile = tiles::fit_tile(params.tile, params.objective.deepest(), min, limits)?;
        let mut sizes = octaves::sizes([h, w], params.octaves, params.octave_scale, min);
        let (smallest, details) = match params.start {
            Start::Photo => {
                let (smallest, details) = octaves::decompose(image.without_autodiff(), &sizes);
                (smallest, details.into_iter().map(Some).collect())
            }
            Start::Noise => {
                let smallest = *sizes.last().expect("at least the image's size");
                let image = octaves::resize(image.without_autodiff(), smallest);
                (image, vec![None; sizes.len() - 1])
            }
        };
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
            guide: None,
            image: smallest,
            octave: 0,
            step: 0,
        })
    }

    /// A new dream of this one's result with `params` and this dream's guide: the next pass,
    /// or "Dream more".
    pub fn again(&self, params: DreamParams) -> Result<Self, Error> {
        let mut dream = Dream::new(&self.model, self.result(), params, &self.limits)?;
        dream.guide = self.guide.clone();
        Ok(dream)
    }

    /// Steers the dream with a guide's features (see [`Guide`]); the recipe must say `guide`.
    pub fn guided(mut self, guide: Guide) -> Self {
        self.guide = Some(guide);
        self
    }

    /// The progress so far.
    pub fn progress(&self) -> Progress {
        let steps = self.params.steps;
        let pixels = |[h, w]: [usize; 2]| (h * w * steps) as u64;
        let before: u64 = self.sizes[..self.octave].iter().copied().map(pixels).sum();
        let [h, w] = self.sizes[self.octave];
        Progress {
            octave: self.octave + 1,
            octaves: self.sizes.len(),
            step: self.step,
            steps,
            done: self.octave * steps + self.step,
            total: self.sizes.len() * steps,
            work_done: before + (h * w * self.step) as u64,
            work_total: self.sizes.iter().copied().map(pixels).sum(),
            pass: 1,
            passes: 1,
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
            let detail = self.details[self.octave].take();
            self.octave += 1;
            self.step = 0;
            self.image = octaves::resize(self.image.clone(), self.sizes[self.octave]);
            if let Some(detail) = detail {
                self.image = self.image.clone() + detail;
            }
        }
        let p = &self.params;
        let (dy, dx) = (self.rng.symmetric(p.jitter), self.rng.symmetric(p.jitter));
        let tiles::Gradient { grad, abs_sum } = tiles::gradient(
            &self.model,
            &self.image,
            &p.objective,
            self.guide.as_ref(),
            [dy, dx],
            self.tile,
            self.min,
            &self.limits,
            &mut self.rng,
        )?;
        let (grad, abs_sum) = if p.lapnorm > 0 {
            let grad = lapnorm::normalize(grad, p.lapnorm);
            let sum = tiles::abs_sum(grad.clone());
            (grad, sum)
        } else {
            (grad, abs_sum)
        };
        let mean_abs = abs_sum / grad.shape().num_elements() as f32;
        let scale = mean_abs.add_scalar(1e-7).recip() * p.step_size;
        // `grad` is ours alone, so backends write the step into its buffer: no full-size copy.
        self.image = (grad * scale + self.image.clone()).clamp(0.0, 255.0);
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
            img = octaves::resize(img, self.sizes[octave + 1]);
            if let Some(detail) = self.details[octave].clone() {
                img = img + detail;
            }
            octave += 1;
        }
        img.clamp(0.0, 255.0)
    }
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
        None,
        [0, 0],
        h.max(w),
        1,
        &whole,
        &mut Rng::new(0),
    )
    .map(|g| g.grad)
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
