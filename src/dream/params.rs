//! The dream recipe: one struct with the canonical defaults, parsed from the same option names
//! by the command line and the page's URL.

use std::fmt;

use crate::Error;
use crate::model::Blob;

/// What the gradient ascent maximises.
#[derive(Debug, Clone, PartialEq)]
pub enum Objective {
    /// Mean of the squared activations of one blob (the classic DeepDream objective).
    Layer(Blob),
    /// Weighted sum of several blobs' mean squared activations.
    Layers(Vec<(Blob, f32)>),
    /// Mean activation of one channel of a blob: dreams one learned feature.
    Channel {
        /// The blob.
        blob: Blob,
        /// The channel index within it.
        channel: usize,
    },
}

impl Objective {
    /// Blobs the forward pass must produce.
    pub fn blobs(&self) -> Vec<Blob> {
        match self {
            Objective::Layer(blob) | Objective::Channel { blob, .. } => vec![*blob],
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

/// Every knob of a dream. `Default` is the canonical preset of Google's original notebook.
#[derive(Debug, Clone, PartialEq)]
pub struct DreamParams {
    /// What to maximise.
    pub objective: Objective,
    /// Number of pyramid levels, the smallest first.
    pub octaves: usize,
    /// Size ratio between neighbouring levels.
    pub octave_scale: f32,
    /// Gradient steps per level.
    pub steps: usize,
    /// Step length, in units of the gradient's mean absolute value.
    pub step_size: f32,
    /// Largest random roll, in pixels, applied before each gradient. 32, as in Google's Caffe
    /// notebook: it breaks the pixel grid's alignment with the network's strides; tile borders
    /// are hidden separately by moving them at random each step (see `dream::tiles`).
    pub jitter: usize,
    /// Largest tile side the gradient is computed on at once: bounds device memory.
    pub tile: usize,
    /// Seed of the jitter and tile placement: the same seed gives the same dream.
    pub seed: u64,
    /// Longest side of the dreamed image; bigger photos are scaled down to it first.
    pub max_size: usize,
}

impl Default for DreamParams {
    fn default() -> Self {
        Self {
            objective: Objective::Layer(Blob::CANONICAL),
            octaves: 4,
            octave_scale: 1.4,
            steps: 10,
            step_size: 1.5,
            jitter: 32,
            tile: 512,
            seed: 0,
            max_size: 4096,
        }
    }
}

/// Bounds of each option, shared by validation and the help texts.
pub mod limits {
    /// Octaves: 1 (no pyramid) to 12.
    pub const OCTAVES: (usize, usize) = (1, 12);
    /// Octave scale: above 1, at most 4.
    pub const OCTAVE_SCALE: (f32, f32) = (1.0, 4.0);
    /// Steps per octave.
    pub const STEPS: (usize, usize) = (1, 1000);
    /// Step size: above 0, at most 100.
    pub const STEP_SIZE: (f32, f32) = (0.0, 100.0);
    /// Jitter in pixels.
    pub const JITTER: usize = 512;
    /// Tile side in pixels.
    pub const TILE: (usize, usize) = (64, 4096);
    /// Longest side in pixels.
    pub const MAX_SIZE: (usize, usize) = (16, 16384);
}

/// The allowed values of recipe option `key`, in words: every refusal of a value names them,
/// whether the value did not parse or fell outside the range.
pub fn allowed(key: &str) -> String {
    use limits::*;
    match key {
        "octaves" => format!("a whole number from {} to {}", OCTAVES.0, OCTAVES.1),
        "octave-scale" => format!(
            "a number above {} and at most {}",
            OCTAVE_SCALE.0, OCTAVE_SCALE.1
        ),
        "steps" => format!("a whole number from {} to {}", STEPS.0, STEPS.1),
        "step-size" => format!("a number above {} and at most {}", STEP_SIZE.0, STEP_SIZE.1),
        "jitter" => format!("a whole number of pixels from 0 to {JITTER}"),
        "tile" => format!("a side in pixels from {} to {}", TILE.0, TILE.1),
        "seed" => format!("a whole number from 0 to {}", u64::MAX),
        "max-size" => format!("a side in pixels from {} to {}", MAX_SIZE.0, MAX_SIZE.1),
        "channel" => {
            "a whole number from 0 to the layer's channels less one (`deepdream layers` lists them)"
                .into()
        }
        "layer weight" => "a finite number, as in inception_4c/output*2".into(),
        _ => "a value this version knows".into(),
    }
}

fn invalid(name: &'static str, value: impl fmt::Display, allowed: impl Into<String>) -> Error {
    Error::Invalid {
        name,
        value: value.to_string(),
        allowed: allowed.into(),
    }
}

impl DreamParams {
    /// Refuses an image too small for the objective's deepest layer; returns that minimum side.
    pub fn check_size(&self, width: usize, height: usize) -> Result<usize, Error> {
        let layer = self.objective.deepest();
        let min = layer.min_input();
        if width < min || height < min {
            return Err(Error::TooSmall {
                width,
                height,
                layer: layer.name(),
                min,
            });
        }
        Ok(min)
    }

    /// Checks every value against its range, naming the first one that is off.
    pub fn validate(&self) -> Result<(), Error> {
        use limits::*;
        if !(OCTAVES.0..=OCTAVES.1).contains(&self.octaves) {
            return Err(invalid("octaves", self.octaves, allowed("octaves")));
        }
        let scale = self.octave_scale;
        if !(scale.is_finite() && scale > OCTAVE_SCALE.0 && scale <= OCTAVE_SCALE.1) {
            return Err(invalid("octave-scale", scale, allowed("octave-scale")));
        }
        if !(STEPS.0..=STEPS.1).contains(&self.steps) {
            return Err(invalid("steps", self.steps, allowed("steps")));
        }
        let step = self.step_size;
        if !(step.is_finite() && step > STEP_SIZE.0 && step <= STEP_SIZE.1) {
            return Err(invalid("step-size", step, allowed("step-size")));
        }
        if self.jitter > JITTER {
            return Err(invalid("jitter", self.jitter, allowed("jitter")));
        }
        let min_tile = TILE.0.max(self.objective.deepest().min_input());
        if !(min_tile..=TILE.1).contains(&self.tile) {
            return Err(invalid(
                "tile",
                self.tile,
                format!(
                    "a side in pixels from {min_tile} to {} for layer {}",
                    TILE.1,
                    self.objective.deepest()
                ),
            ));
        }
        if !(MAX_SIZE.0..=MAX_SIZE.1).contains(&self.max_size) {
            return Err(invalid("max-size", self.max_size, allowed("max-size")));
        }
        if let Some(blob) = self.objective.blobs().into_iter().find(|b| !b.dreamable()) {
            return Err(invalid(
                "layer",
                blob,
                "a layer with a spatial map; the class scores (loss3/classifier) only take \
                 224-px inputs, so dreams stop at pool5/7x7_s1 (`deepdream layers` lists them)",
            ));
        }
        match &self.objective {
            Objective::Channel { blob, channel } if *channel >= blob.channels() => Err(invalid(
                "channel",
                channel,
                format!("a channel of {blob}, from 0 to {}", blob.channels() - 1),
            )),
            Objective::Layers(layers) if layers.is_empty() => {
                Err(invalid("layer", "(none)", "at least one layer"))
            }
            Objective::Layers(layers) => match layers.iter().find(|(_, w)| !w.is_finite()) {
                Some((blob, w)) => Err(invalid(
                    "layer weight",
                    format!("{blob}*{w}"),
                    allowed("layer weight"),
                )),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_canonical_preset_and_valid() {
        let p = DreamParams::default();
        assert_eq!(p.objective.to_string(), "inception_4c/output");
        assert_eq!((p.octaves, p.steps, p.jitter), (4, 10, 32));
        assert_eq!((p.octave_scale, p.step_size), (1.4, 1.5));
        p.validate().unwrap();
    }

    #[test]
    fn bad_values_are_named_with_their_range() {
        let bad = |p: DreamParams| p.validate().unwrap_err().to_string();
        let msg = bad(DreamParams {
            octave_scale: 1.0,
            ..Default::default()
        });
        assert!(
            msg.contains("octave-scale = 1") && msg.contains("above 1"),
            "{msg}"
        );
        let msg = bad(DreamParams {
            step_size: f32::NAN,
            ..Default::default()
        });
        assert!(msg.contains("step-size = NaN"), "{msg}");
        let msg = bad(DreamParams {
            steps: 0,
            ..Default::default()
        });
        assert!(
            msg.contains("steps = 0") && msg.contains("1 to 1000"),
            "{msg}"
        );
        let msg = bad(DreamParams {
            objective: Objective::Channel {
                blob: Blob::CANONICAL,
                channel: 512,
            },
            ..Default::default()
        });
        assert!(msg.contains("0 to 511"), "{msg}");
        let msg = bad(DreamParams {
            objective: Objective::Layers(vec![(Blob::CANONICAL, 1.0), (Blob::Classifier, 2.0)]),
            ..Default::default()
        });
        assert!(
            msg.contains("layer = loss3/classifier") && msg.contains("stop at pool5/7x7_s1"),
            "{msg}"
        );
    }

    #[test]
    fn every_layer_the_page_offers_dreams_and_the_classifier_is_not_offered() {
        let offered = Blob::dreamable_all();
        assert!(!offered.contains(&Blob::Classifier));
        assert_eq!(offered.len(), Blob::all().len() - 1);
        for blob in offered {
            let p = DreamParams {
                objective: Objective::Layer(blob),
                tile: limits::TILE.1,
                ..Default::default()
            };
            p.validate().unwrap();
        }
    }
}
