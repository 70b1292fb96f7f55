//! The recipe as text: `key=value` pairs under the command line's option names, one table row
//! per option. The page keeps it in its URL and builds its form from the rows, results carry
//! it in their PNG, and the command line makes its arguments from the rows, so a link, a file
//! and a command all mean the same dream, and a new option is one row.

use std::fmt;
use std::str::FromStr;

use super::objective::Objective;
use super::params::{DreamParams, NOISE_LAPNORM, Start};
use crate::Error;
use crate::model::Blob;

/// How an option's value is written and checked: the command line's help, the page's form
/// control and every refusal come from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A whole number from `min` to `max`.
    Whole {
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// A number from `min` to `max`, both allowed (and negative ones).
    Number {
        /// Smallest allowed.
        min: f32,
        /// Largest allowed.
        max: f32,
    },
    /// A number above `above` and at most `max`.
    Real {
        /// The value must be greater than this.
        above: f32,
        /// Largest allowed.
        max: f32,
    },
    /// One of these words.
    Choice(&'static [&'static str]),
    /// 0 or 1: a flag on the command line, a checkbox on the page.
    Switch,
    /// Layer names, `a*2+b` for several.
    Layers,
    /// A channel of the chosen layer.
    Channel,
}

impl Kind {
    /// The allowed values, in words.
    pub fn allowed(&self) -> String {
        match self {
            Kind::Whole { min, max } => format!("a whole number from {min} to {max}"),
            Kind::Number { min, max } => format!("a number from {min} to {max}"),
            Kind::Real { above, max } => format!("a number above {above} and at most {max}"),
            Kind::Choice(words) => format!("one of {}", words.join(", ")),
            Kind::Switch => "0 (off) or 1 (on)".into(),
            Kind::Layers => "a layer name, or several as a*2+b (`deepdream layers` lists them)".into(),
            Kind::Channel => {
                "a whole number from 0 to the layer's channels less one (`deepdream layers` lists them)"
                    .into()
            }
        }
    }

    /// Refuses `value` for option `key` unless it is of this kind and in range (what can be
    /// checked without the rest of the recipe).
    pub fn check(&self, key: &'static str, value: &str) -> Result<(), Error> {
        let refuse = || Error::Invalid {
            name: key,
            value: value.to_string(),
            allowed: self.allowed(),
        };
        let ok = match self {
            Kind::Whole { min, max } => value
                .trim()
                .parse::<u64>()
                .is_ok_and(|v| (*min..=*max).contains(&v)),
            Kind::Number { min, max } => value
                .trim()
                .parse::<f32>()
                .is_ok_and(|v| v.is_finite() && (*min..=*max).contains(&v)),
            Kind::Real { above, max } => value
                .trim()
                .parse::<f32>()
                .is_ok_and(|v| v.is_finite() && v > *above && v <= *max),
            Kind::Choice(words) => words.contains(&value.trim()),
            Kind::Switch => ["0", "1"].contains(&value.trim()),
            Kind::Channel => value.trim().parse::<usize>().is_ok(),
            Kind::Layers => true,
        };
        if ok { Ok(()) } else { Err(refuse()) }
    }
}

/// What a dream starts from, for [`RecipeOption::applies`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// Every dream.
    Always,
    /// Dreams of a photo.
    Photo,
    /// Dreams from noise (feature visualisation, the gallery).
    Noise,
    /// Animations (frames after the first are the last one zoomed, turned and dreamed again).
    Motion,
}

/// One recipe option: a row that drives the command line's arguments, the URL, the PNG's
/// recipe and the page's form. A new option is one row here (and its field in `DreamParams`).
pub struct RecipeOption {
    /// The key in URLs and PNGs, and the command line's `--key`.
    pub key: &'static str,
    /// The page form's label.
    pub label: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// The default, as help texts show it.
    pub default: &'static str,
    /// Its values and range.
    pub kind: Kind,
    /// Which dreams it is offered for.
    pub applies: Applies,
    /// Whether a face shows it among the other options. `start` and `guide` have their own
    /// controls: a subcommand and a "Start from noise" choice, a `--guide IMAGE` path and a
    /// drop zone.
    pub listed: bool,
    /// The value in `params` as text; `None` where the recipe leaves it out (an option that
    /// is off).
    pub get: fn(&DreamParams) -> Option<String>,
    pub(super) set: fn(&mut Draft, &str) -> Result<(), Error>,
}

/// A recipe being read: the options that combine (layer and channel; lapnorm's default
/// follows the start) wait here until every pair is in.
pub(super) struct Draft {
    pub(super) params: DreamParams,
    pub(super) layer: Option<Vec<(Blob, f32)>>,
    pub(super) channel: Option<usize>,
    pub(super) lapnorm: Option<usize>,
}

fn parsed<T: FromStr>(value: &str) -> T {
    value
        .trim()
        .parse()
        .ok()
        .expect("checked by the row's kind")
}

/// Every option, in the order URLs and PNGs write them.
pub const OPTIONS: &[RecipeOption] = &[
    RecipeOption {
        key: "start",
        label: "Start from",
        help: "What the dream starts from: the photo, or grey noise (feature visualisation)",
        default: "photo",
        kind: Kind::Choice(&["photo", "noise"]),
        applies: Applies::Always,
        listed: false,
        get: |p| (p.start == Start::Noise).then(|| "noise".into()),
        set: |d, v| {
            d.params.start = if v.trim() == "noise" {
                Start::Noise
            } else {
                Start::Photo
            };
            Ok(())
        },
    },
    RecipeOption {
        key: "layer",
        label: "Layer",
        help: "Layer (Caffe blob name) to maximise; a*2+b weighs several",
        default: "inception_4c/output",
        kind: Kind::Layers,
        applies: Applies::Always,
        listed: true,
        get: |p| {
            Some(match &p.objective {
                Objective::Layer(blob) | Objective::Channel { blob, .. } => blob.name(),
                Objective::Layers(layers) => layers
                    .iter()
                    .map(|(b, w)| format!("{b}*{w}"))
                    .collect::<Vec<_>>()
                    .join("+"),
            })
        },
        set: |d, v| {
            d.layer = Some(layers(v)?);
            Ok(())
        },
    },
    RecipeOption {
        key: "channel",
        label: "Channel",
        help: "Maximise only this channel of the layer (its value before the ReLU)",
        default: "all",
        kind: Kind::Channel,
        applies: Applies::Always,
        listed: true,
        get: |p| match p.objective {
            Objective::Channel { channel, .. } => Some(channel.to_string()),
            _ => None,
        },
        set: |d, v| {
            d.channel = Some(parsed(v));
            Ok(())
        },
    },
    RecipeOption {
        key: "octaves",
        label: "Octaves",
        help: "Octaves (pyramid levels)",
        default: "4",
        kind: Kind::Whole { min: 1, max: 12 },
        applies: Applies::Always,
        listed: true,
        get: |p| Some(p.octaves.to_string()),
        set: |d, v| {
            d.params.octaves = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "octave-scale",
        label: "Octave scale",
        help: "Size ratio between octaves",
        default: "1.4",
        kind: Kind::Real {
            above: 1.0,
            max: 4.0,
        },
        applies: Applies::Always,
        listed: true,
        get: |p| Some(p.octave_scale.to_string()),
        set: |d, v| {
            d.params.octave_scale = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "steps",
        label: "Steps per octave",
        help: "Gradient steps per octave",
        default: "10",
        kind: Kind::Whole { min: 1, max: 1000 },
        applies: Applies::Always,
        listed: true,
        get: |p| Some(p.steps.to_string()),
        set: |d, v| {
            d.params.steps = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "step-size",
        label: "Step size",
        help: "Step size, in mean absolute gradients",
        default: "1.5",
        kind: Kind::Real {
            above: 0.0,
            max: 100.0,
        },
        applies: Applies::Always,
        listed: true,
        get: |p| Some(p.step_size.to_string()),
        set: |d, v| {
            d.params.step_size = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "jitter",
        label: "Jitter (px)",
        help: "Largest random shift in pixels before each step",
        default: "32",
        kind: Kind::Whole { min: 0, max: 512 },
        applies: Applies::Always,
        listed: true,
        get: |p| Some(p.jitter.to_string()),
        set: |d, v| {
            d.params.jitter = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "tile",
        label: "Tile (px)",
        help: "Largest tile side for the gradient, in pixels",
        default: "512",
        kind: Kind::Whole { min: 64, max: 4096 },
        applies: Applies::Always,
        listed: true,
        get: |p| Some(p.tile.to_string()),
        set: |d, v| {
            d.params.tile = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "seed",
        label: "Seed",
        help: "Random seed: the same seed gives the same dream",
        default: "0",
        kind: Kind::Whole {
            min: 0,
            max: u64::MAX,
        },
        applies: Applies::Always,
        listed: true,
        get: |p| Some(p.seed.to_string()),
        set: |d, v| {
            d.params.seed = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "passes",
        label: "Passes",
        help: "Dreams in a row, each from the last one's result with the next seed (Dream more adds one)",
        default: "1",
        kind: Kind::Whole { min: 1, max: 100 },
        applies: Applies::Always,
        listed: true,
        get: |p| (p.passes > 1).then(|| p.passes.to_string()),
        set: |d, v| {
            d.params.passes = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "max-size",
        label: "Maximum size (px)",
        help: "Longest side to dream at; bigger photos are scaled down",
        default: "4096",
        kind: Kind::Whole {
            min: 16,
            max: 16384,
        },
        applies: Applies::Photo,
        listed: true,
        get: |p| Some(p.max_size.to_string()),
        set: |d, v| {
            d.params.max_size = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "size",
        label: "Size (px)",
        help: "Side of an image dreamed from noise, in pixels",
        default: "320",
        kind: Kind::Whole { min: 16, max: 4096 },
        applies: Applies::Noise,
        listed: true,
        // Written for a dream from noise, and kept in a photo's recipe when not the default,
        // so a link can carry it to a later "Start from noise".
        get: |p| {
            (p.start == Start::Noise || p.size != DreamParams::default().size)
                .then(|| p.size.to_string())
        },
        set: |d, v| {
            d.params.size = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "lapnorm",
        label: "Laplacian levels",
        help: "Normalise the gradient over this many Laplacian levels (clearer shapes); 0 = off",
        default: "0 for a photo, 4 from noise",
        kind: Kind::Whole { min: 0, max: 8 },
        applies: Applies::Always,
        listed: true,
        get: |p| {
            let default = if p.start == Start::Noise {
                NOISE_LAPNORM
            } else {
                0
            };
            (p.lapnorm != default || p.start == Start::Noise).then(|| p.lapnorm.to_string())
        },
        set: |d, v| {
            d.lapnorm = Some(parsed(v));
            Ok(())
        },
    },
    RecipeOption {
        key: "keep-colors",
        label: "Keep the photo’s colours",
        help: "Keep the photo's colours: only the brightness dreams",
        default: "0",
        kind: Kind::Switch,
        applies: Applies::Photo,
        listed: true,
        get: |p| p.keep_colors.then(|| "1".into()),
        set: |d, v| {
            d.params.keep_colors = v.trim() == "1";
            Ok(())
        },
    },
    RecipeOption {
        key: "frames",
        label: "Frames",
        help: "Frames of an infinite-zoom animation; 0 = a still picture",
        default: "0",
        kind: Kind::Whole {
            min: 0,
            max: 10_000,
        },
        applies: Applies::Motion,
        listed: true,
        get: |p| (p.frames > 0).then(|| p.frames.to_string()),
        set: |d, v| {
            d.params.frames = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "zoom",
        label: "Zoom per frame",
        help: "How much each frame zooms in on the last (below 1 zooms out)",
        default: "1.05",
        kind: Kind::Real {
            above: 0.5,
            max: 2.0,
        },
        applies: Applies::Motion,
        listed: true,
        get: |p| (p.frames > 0).then(|| p.zoom.to_string()),
        set: |d, v| {
            d.params.zoom = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "rotate",
        label: "Turn per frame (°)",
        help: "How far each frame turns from the last, in degrees (negative: the other way)",
        default: "0",
        kind: Kind::Number {
            min: -180.0,
            max: 180.0,
        },
        applies: Applies::Motion,
        listed: true,
        get: |p| (p.frames > 0).then(|| p.rotate.to_string()),
        set: |d, v| {
            d.params.rotate = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "steps-per-frame",
        label: "Steps per frame",
        help: "Gradient steps each frame after the first is dreamed with (one octave)",
        default: "5",
        kind: Kind::Whole { min: 1, max: 100 },
        applies: Applies::Motion,
        listed: true,
        get: |p| (p.frames > 0).then(|| p.steps_per_frame.to_string()),
        set: |d, v| {
            d.params.steps_per_frame = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "fps",
        label: "Frames per second",
        help: "Frames per second of the video or animated image",
        default: "24",
        kind: Kind::Whole { min: 1, max: 120 },
        applies: Applies::Motion,
        listed: true,
        get: |p| (p.frames > 0).then(|| p.fps.to_string()),
        set: |d, v| {
            d.params.fps = parsed(v);
            Ok(())
        },
    },
    RecipeOption {
        key: "guide",
        label: "Guide image",
        help: "A guide image steers the dream towards its features",
        default: "0",
        kind: Kind::Switch,
        applies: Applies::Always,
        listed: false,
        get: |p| p.guide.then(|| "1".into()),
        set: |d, v| {
            d.params.guide = v.trim() == "1";
            Ok(())
        },
    },
];

/// The row of `key`.
pub fn option(key: &str) -> Option<&'static RecipeOption> {
    OPTIONS.iter().find(|o| o.key == key)
}

/// The allowed values of recipe option `key`, in words: every refusal of a value names them.
pub fn allowed(key: &str) -> String {
    option(key).map_or_else(|| "a value this version knows".into(), |o| o.kind.allowed())
}

fn real(name: &'static str, value: &str) -> Result<f32, Error> {
    match value.trim().parse::<f32>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(Error::Invalid {
            name,
            value: value.to_string(),
            allowed: "a finite number, as in inception_4c/output*2".into(),
        }),
    }
}

/// `name` or `name*weight`, joined by `+`. A space joins too: a `+` typed into a link by hand
/// reaches the parser as one (form encoding), and no layer name has a space.
fn layers(value: &str) -> Result<Vec<(Blob, f32)>, Error> {
    value
        .split(['+', ' '])
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('*') {
            Some((name, weight)) => Ok((name.trim().parse()?, real("layer weight", weight)?)),
            None => Ok((part.trim().parse()?, 1.0)),
        })
        .collect()
}

fn invalid(name: &'static str, value: impl fmt::Display, allowed: impl Into<String>) -> Error {
    Error::Invalid {
        name,
        value: value.to_string(),
        allowed: allowed.into(),
    }
}

impl DreamParams {
    /// Checks every value against its row's range ([`OPTIONS`]), naming the first one that is
    /// off, then what the rows cannot say alone (a tile too small for the layer, a channel the
    /// layer lacks, options that do not go together).
    pub fn validate(&self) -> Result<(), Error> {
        for row in OPTIONS {
            if let Some(value) = (row.get)(self) {
                row.kind.check(row.key, &value)?;
            }
        }
        let min_tile = tile_min().max(self.objective.deepest().min_input());
        if self.tile < min_tile {
            return Err(invalid(
                "tile",
                self.tile,
                format!(
                    "a side in pixels from {min_tile} to {} for layer {}",
                    tile_max(),
                    self.objective.deepest()
                ),
            ));
        }
        if let Some(blob) = self.objective.blobs().into_iter().find(|b| !b.dreamable()) {
            return Err(invalid(
                "layer",
                blob,
                "a layer with a spatial map; the class scores (loss3/classifier) only take \
                 224-px inputs, so dreams stop at pool5/7x7_s1 (`deepdream layers` lists them)",
            ));
        }
        if self.start == Start::Noise {
            // An animation's frames have even sides: an odd size loses a pixel first.
            let side = if self.frames > 0 {
                self.size & !1
            } else {
                self.size
            };
            self.check_size(side, side).map_err(|_| {
                invalid(
                    "size",
                    self.size,
                    format!(
                        "a side of at least {} px for layer {}{}",
                        self.objective.deepest().min_input(),
                        self.objective.deepest(),
                        if self.frames > 0 {
                            " (an animation's frames have even sides, so an odd size loses one)"
                        } else {
                            ""
                        }
                    ),
                )
            })?;
            if self.keep_colors {
                return Err(invalid(
                    "keep-colors",
                    1,
                    "0 when starting from noise: there is no photo to keep the colours of",
                ));
            }
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
                    "a finite number, as in inception_4c/output*2",
                )),
                None if self.guide => Err(invalid(
                    "guide",
                    1,
                    "0 with several layers: a guide steers one layer (or drop the guide)",
                )),
                None => Ok(()),
            },
            Objective::Channel { .. } if self.guide => Err(invalid(
                "guide",
                1,
                "0 with a channel: a guide steers a whole layer (or drop the channel)",
            )),
            _ => Ok(()),
        }
    }
}

fn tile_range() -> (u64, u64) {
    match OPTIONS.iter().find(|r| r.key == "tile").map(|r| &r.kind) {
        Some(Kind::Whole { min, max }) => (*min, *max),
        _ => unreachable!("tile is a whole number"),
    }
}

fn tile_min() -> usize {
    tile_range().0 as usize
}

fn tile_max() -> usize {
    tile_range().1 as usize
}
