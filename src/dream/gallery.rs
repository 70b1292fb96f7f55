//! What each channel of a layer wants to see: feature visualisations from noise of several
//! channels at once, one image per channel in one batch, for a gallery of thumbnails. A
//! thumbnail is small enough for one tile, so there are no tiles here: the batch is the pass.

use burn::tensor::{Device, Tensor, TensorData};

use super::objective::Objective;
use super::params::{DreamParams, Start};
use super::{Rng, lapnorm, octaves};
use crate::model::{Blob, GoogLeNet};
use crate::{Error, image_io};

/// Grey, as the network's mean colour, with a little noise of its own for each `seed`: where a
/// dream from noise starts. [1, 3, H, W] on 0..255.
pub fn noise([h, w]: [usize; 2], seed: u64, device: &Device) -> Tensor<4> {
    let mut rng = Rng::new(seed);
    let grey = [123.0, 117.0, 104.0];
    let values: Vec<f32> = (0..3 * h * w)
        .map(|i| grey[i / (h * w)] + rng.symmetric(NOISE) as f32)
        .collect();
    Tensor::from_data(TensorData::new(values, [1, 3, h, w]), device)
}

/// Amplitude of the starting noise, in grey levels.
const NOISE: usize = 8;

/// The seed of channel `channel`'s starting noise: each channel's image is its own, whichever
/// batch it is rendered in.
fn channel_seed(seed: u64, channel: usize) -> u64 {
    seed ^ (channel as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Channels of one layer being visualised together.
pub struct Gallery {
    model: GoogLeNet,
    params: DreamParams,
    /// Per image: the objective of its channel.
    objectives: Vec<Objective>,
    /// The blobs the pass produces, and for each image the index of its blob there and its
    /// channel within it (a module's output channels come from four branches).
    blobs: Vec<Blob>,
    reads: Vec<(usize, usize)>,
    sizes: Vec<[usize; 2]>,
    image: Tensor<4>,
    rng: Rng,
    octave: usize,
    step: usize,
}

impl Gallery {
    /// Starts the visualisations of `channels` of `layer` with the noise recipe `params`
    /// (its `size`, octaves, steps, step size, jitter, lapnorm and seed; its objective is
    /// replaced by each channel's).
    pub fn new(
        model: &GoogLeNet,
        device: &Device,
        layer: Blob,
        channels: &[usize],
        params: &DreamParams,
    ) -> Result<Self, Error> {
        if channels.is_empty() {
            return Err(Error::Invalid {
                name: "channels",
                value: "(none)".into(),
                allowed: "at least one channel".into(),
            });
        }
        let objectives: Vec<Objective> = channels
            .iter()
            .map(|&channel| Objective::Channel {
                blob: layer,
                channel,
            })
            .collect();
        let mut params = DreamParams {
            start: Start::Noise,
            objective: objectives[0].clone(),
            ..params.clone()
        };
        for objective in &objectives {
            params.objective = objective.clone();
            params.validate()?;
        }
        let mut blobs: Vec<Blob> = Vec::new();
        let reads = channels
            .iter()
            .map(|&c| {
                let (blob, channel) = layer.channel_source(c);
                let at = blobs.iter().position(|b| *b == blob).unwrap_or_else(|| {
                    blobs.push(blob);
                    blobs.len() - 1
                });
                (at, channel)
            })
            .collect();
        let deepest = blobs
            .iter()
            .copied()
            .max_by_key(|b| b.order())
            .expect("one");
        let mut sizes = octaves::sizes(
            [params.size, params.size],
            params.octaves,
            params.octave_scale,
            deepest.min_input(),
        );
        sizes.reverse();
        let images = channels
            .iter()
            .map(|&c| noise(sizes[0], channel_seed(params.seed, c), device))
            .collect();
        Ok(Self {
            model: model.clone(),
            rng: Rng::new(params.seed),
            params,
            objectives,
            blobs,
            reads,
            sizes,
            image: Tensor::cat(images, 0),
            octave: 0,
            step: 0,
        })
    }

    /// Steps done and in all.
    pub fn progress(&self) -> (usize, usize) {
        let steps = self.params.steps;
        (self.octave * steps + self.step, self.sizes.len() * steps)
    }

    /// Whether every step has run.
    pub fn is_finished(&self) -> bool {
        self.octave + 1 == self.sizes.len() && self.step == self.params.steps
    }

    /// One gradient step for every image of the batch; `false` once finished.
    pub fn step(&mut self) -> Result<bool, Error> {
        if self.is_finished() {
            return Ok(false);
        }
        if self.step == self.params.steps {
            self.octave += 1;
            self.step = 0;
            self.image = octaves::resize(self.image.clone(), self.sizes[self.octave]);
        }
        let p = &self.params;
        let shift = [
            self.rng
                .symmetric(p.jitter.min(self.sizes[self.octave][0] / 2)),
            self.rng
                .symmetric(p.jitter.min(self.sizes[self.octave][1] / 2)),
        ];
        let input = self
            .image
            .clone()
            .roll(&shift, &[2, 3])
            .autodiff()
            .require_grad();
        let acts = self.model.forward(input.clone(), &self.blobs)?;
        // Each image's own channel: images in a batch do not interact, so each gets the
        // gradient of its own channel's mean.
        let objective = self
            .reads
            .iter()
            .enumerate()
            .map(|(k, &(blob, channel))| {
                let a = acts[blob].clone().narrow(0, k, 1);
                let [_, _, h, w] = a.dims();
                a.narrow(1, channel, 1).sum() / (h * w) as f32
            })
            .reduce(|a, b| a + b)
            .expect("one image at least");
        let grads = objective.backward();
        let grad = input
            .grad(&grads)
            .ok_or_else(|| Error::Device("the backward pass produced no input gradient".into()))?
            .roll(&[-shift[0], -shift[1]], &[2, 3]);
        let grad = if p.lapnorm > 0 {
            lapnorm::normalize(grad, p.lapnorm)
        } else {
            grad
        };
        // Each image's step is its own gradient's mean absolute value over the step size.
        let mean_abs = grad.clone().abs().mean_dim(3).mean_dim(2).mean_dim(1);
        let scale = mean_abs.add_scalar(1e-7).recip() * p.step_size;
        self.image = (grad * scale + self.image.clone()).clamp(0.0, 255.0);
        self.step += 1;
        Ok(true)
    }

    /// The images so far, [N, 3, S, S] in the order of the channels asked.
    pub fn images(&self) -> Tensor<4> {
        self.image.clone()
    }

    /// The objective each image maximises, in order.
    pub fn objectives(&self) -> &[Objective] {
        &self.objectives
    }

    /// The images so far as PNG bytes, each with its own recipe (its channel) inside, in the
    /// order of the channels asked. (Reading back is asynchronous in the browser.)
    pub fn pngs(&self) -> impl Future<Output = Result<Vec<Vec<u8>>, Error>> + use<> {
        let images = self.images();
        let recipes: Vec<String> = self
            .objectives
            .iter()
            .map(|objective| {
                DreamParams {
                    objective: objective.clone(),
                    ..self.params.clone()
                }
                .to_query()
            })
            .collect();
        async move {
            let mut pngs = Vec::with_capacity(recipes.len());
            for (k, recipe) in recipes.iter().enumerate() {
                let rgb = image_io::from_tensor(images.clone().narrow(0, k, 1)).await?;
                pngs.push(image_io::encode_png(&rgb, None, recipe, &[])?);
            }
            Ok(pngs)
        }
    }
}

/// A gallery's thumbnails unless the recipe says otherwise: smaller and quicker than a single
/// visualisation (the notebook's three octaves).
pub const DEFAULTS: [(&str, &str); 3] = [("start", "noise"), ("size", "128"), ("octaves", "3")];

/// The recipe of a gallery of `layer`'s channels: [`DEFAULTS`], then `query`'s values (a
/// smaller size, fewer steps), then the layer; and that layer, which must be one layer, with
/// no channel.
pub fn recipe(layer: &str, query: &str) -> Result<(DreamParams, Blob), Error> {
    let mut pairs = super::query::pairs(query);
    pairs.push(("layer".into(), layer.into()));
    recipe_of(pairs)
}

/// A gallery's recipe from `key=value` pairs over [`DEFAULTS`], and the one layer it shows
/// (refused when the pairs name several layers, a channel or a guide).
pub fn recipe_of<K: AsRef<str>, V: AsRef<str>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> Result<(DreamParams, Blob), Error> {
    let defaults = DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let pairs = pairs
        .into_iter()
        .map(|(k, v)| (k.as_ref().to_string(), v.as_ref().to_string()));
    let params = DreamParams::from_pairs(defaults.chain(pairs))?;
    match params.objective {
        Objective::Layer(layer) if !params.guide => Ok((params, layer)),
        _ => Err(Error::Invalid {
            name: "layer",
            value: params.objective.to_string(),
            allowed: "one layer, with no channel and no guide: a gallery shows every channel"
                .into(),
        }),
    }
}
