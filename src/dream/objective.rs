//! What a dream maximises, beside its math: the value whose gradient moves the image, computed
//! from one pass's activations of a batch of tiles. Tiles, octaves and step sizes live
//! elsewhere; this file only says what "more" means.

use std::fmt;

use burn::tensor::Tensor;

use crate::Error;
use crate::model::{Blob, GoogLeNet};

/// What the gradient ascent maximises.
#[derive(Debug, Clone, PartialEq)]
pub enum Objective {
    /// Mean of the squared activations of one blob (the classic DeepDream objective).
    Layer(Blob),
    /// Weighted sum of several blobs' mean squared activations.
    Layers(Vec<(Blob, f32)>),
    /// Mean of one channel of a blob, taken before its ReLU ([`Blob::channel_source`]): dreams
    /// one learned feature, and from grey noise too, where after the ReLU most channels are
    /// zero everywhere and so have no gradient.
    Channel {
        /// The blob.
        blob: Blob,
        /// The channel index within it.
        channel: usize,
    },
}

impl Objective {
    /// Blobs the forward pass must produce, in the order [`Objective::value`] reads them.
    pub fn blobs(&self) -> Vec<Blob> {
        match self {
            Objective::Layer(blob) => vec![*blob],
            Objective::Channel { blob, channel } => vec![blob.channel_source(*channel).0],
            Objective::Layers(layers) => layers.iter().map(|(b, _)| *b).collect(),
        }
    }

    /// The deepest blob: it sets the smallest image the objective can use.
    pub fn deepest(&self) -> Blob {
        self.blobs()
            .into_iter()
            .max_by_key(|b| b.order())
            .unwrap_or(Blob::CANONICAL)
    }

    /// The objective of a batch of same-shaped tiles from their activations (`acts`, one per
    /// blob of [`Objective::blobs`]), scaled by `share`, the tiles' part of the whole image, so
    /// that tiles add up to the image's objective. Tiles in a batch do not interact, so each
    /// one's gradient is its own. With a `guide`, a single layer's objective becomes the
    /// guide's match ([`Guide`]).
    pub fn value(&self, acts: Vec<Tensor<4>>, share: f32, guide: Option<&Guide>) -> Tensor<1> {
        let mean_sq = |a: Tensor<4>| {
            let [batch, ..] = a.dims();
            let n = (a.shape().num_elements() / batch) as f32;
            a.square().sum() * (share / n)
        };
        let mut acts = acts.into_iter();
        match (self, guide) {
            (Objective::Layer(_), Some(guide)) => {
                guide.matched(acts.next().expect("one blob"), share)
            }
            (Objective::Layer(_), None) => mean_sq(acts.next().expect("one blob")),
            (Objective::Layers(layers), _) => acts
                .zip(layers)
                .map(|(a, (_, w))| mean_sq(a) * *w)
                .reduce(|a, b| a + b)
                .expect("at least one layer"),
            (Objective::Channel { blob, channel }, _) => {
                let a = acts.next().expect("one blob");
                let [_, _, h, w] = a.dims();
                let (_, channel) = blob.channel_source(*channel);
                a.narrow(1, channel, 1).sum() * (share / (h * w) as f32)
            }
        }
    }
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Objective::Layer(blob) => write!(f, "{blob}"),
            Objective::Channel { blob, channel } => write!(f, "{blob} channel {channel}"),
            Objective::Layers(layers) => {
                let parts: Vec<String> = layers.iter().map(|(b, w)| format!("{b}*{w}")).collect();
                f.write_str(&parts.join("+"))
            }
        }
    }
}

/// A guide image's activations at the dream's layer, one vector per position: Google's
/// "controlling dreams". At each position of the dreamed image the objective is the dot
/// product of its activation vector with the guide vector it matches best, so the gradient
/// pulls every position towards the guide feature it already most resembles.
#[derive(Debug, Clone)]
pub struct Guide {
    /// [1, C, M]: the guide's M position vectors as columns.
    features: Tensor<3>,
}

/// The guide is read at this longest side (the notebook's guides are about 224 px): enough
/// positions to hold its features, few enough that matching stays cheap.
pub const GUIDE_SIDE: usize = 224;

impl Guide {
    /// The activations of `image` ([1, 3, H, W], RGB on 0..255, already fitted) at `blob`.
    pub fn new(model: &GoogLeNet, image: Tensor<4>, blob: Blob) -> Result<Self, Error> {
        let acts = model.forward(image.without_autodiff(), &[blob])?;
        let a = acts.into_iter().next().expect("one blob");
        let [_, c, h, w] = a.dims();
        Ok(Self {
            features: a.reshape([1, c, h * w]),
        })
    }

    /// Σ over positions of max over guide vectors of (x · g), scaled by `share` over the
    /// positions of a tile; `acts` is [B, C, H, W].
    fn matched(&self, acts: Tensor<4>, share: f32) -> Tensor<1> {
        let [b, c, h, w] = acts.dims();
        let [_, _, m] = self.features.dims();
        let x = acts.reshape([b, c, h * w]).swap_dims(1, 2);
        let sims = x.matmul(self.features.clone().expand([b, c, m]));
        sims.max_dim(2).sum() * (share / (h * w) as f32)
    }
}
