//! The dream recipe: one struct with the canonical defaults. Its text form, ranges and help
//! are the rows of `recipe::OPTIONS`.

use super::objective::Objective;
use crate::Error;
use crate::model::Blob;

/// What a dream starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The user's photo.
    Photo,
    /// Grey with a little noise: feature visualisation, what the objective itself looks like.
    Noise,
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
    /// Dreams in a row, each from the last one's result with the next seed: what "Dream more"
    /// adds, so a continued dream's recipe makes the same picture again.
    pub passes: usize,
    /// Longest side of the dreamed image; bigger photos are scaled down to it first.
    pub max_size: usize,
    /// What the dream starts from.
    pub start: Start,
    /// Side of a dream from noise, in pixels.
    pub size: usize,
    /// Laplacian levels the gradient is normalised over (`dream::lapnorm`); 0 = off.
    pub lapnorm: usize,
    /// Keep the photo's colours: the result takes only its luminance from the dream.
    pub keep_colors: bool,
    /// A guide image steers the dream (its pixels are not part of the recipe, only that one
    /// was used).
    pub guide: bool,
    /// Frames of an infinite-zoom animation; 0 for a still picture.
    pub frames: usize,
    /// Zoom from one frame to the next.
    pub zoom: f32,
    /// Turn from one frame to the next, in degrees.
    pub rotate: f32,
    /// Gradient steps of each frame after the first (one octave each).
    pub steps_per_frame: usize,
    /// Frames per second of the video.
    pub fps: usize,
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
            passes: 1,
            max_size: 4096,
            start: Start::Photo,
            size: 320,
            lapnorm: 0,
            keep_colors: false,
            guide: false,
            frames: 0,
            zoom: 1.05,
            rotate: 0.0,
            steps_per_frame: 5,
            fps: 24,
        }
    }
}

/// Laplacian levels a dream from noise gets unless the recipe says otherwise (the notebook's 4).
pub const NOISE_LAPNORM: usize = 4;

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
                tile: 4096,
                ..Default::default()
            };
            p.validate().unwrap();
        }
    }
}
