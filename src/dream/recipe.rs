//! The recipe as text: `key=value` pairs under the command line's option names, one table row
//! per option. The page keeps it in its URL and builds its form from the rows, results carry
//! it in their PNG, and the command line makes its arguments from the rows, so a link, a file
//! and a command all mean the same dream, and a new option is one row.

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
    set: fn(&mut Draft, &str) -> Result<(), Error>,
}

/// A recipe being read: the options that combine (layer and channel; lapnorm's default
/// follows the start) wait here until every pair is in.
struct Draft {
    params: DreamParams,
    layer: Option<Vec<(Blob, f32)>>,
    channel: Option<usize>,
    lapnorm: Option<usize>,
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

impl DreamParams {
    /// Builds a recipe from `key=value` pairs over the defaults, then validates it. Unknown keys
    /// are refused, so a typo never silently dreams something else.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, Error> {
        let mut d = Draft {
            params: DreamParams::default(),
            layer: None,
            channel: None,
            lapnorm: None,
        };
        for (key, value) in pairs {
            let (key, value) = (key.as_ref(), value.as_ref());
            let row = option(key).ok_or_else(|| Error::Invalid {
                name: "recipe key",
                value: key.to_string(),
                allowed: format!(
                    "one of {}",
                    OPTIONS.iter().map(|o| o.key).collect::<Vec<_>>().join(", ")
                ),
            })?;
            row.kind.check(row.key, value)?;
            (row.set)(&mut d, value)?;
        }
        let mut p = d.params;
        p.lapnorm = d.lapnorm.unwrap_or(match p.start {
            Start::Noise => NOISE_LAPNORM,
            Start::Photo => 0,
        });
        let layer = d.layer.unwrap_or_else(|| vec![(Blob::CANONICAL, 1.0)]);
        p.objective = match (layer.as_slice(), d.channel) {
            ([(blob, _)], Some(channel)) => Objective::Channel {
                blob: *blob,
                channel,
            },
            (_, Some(channel)) => {
                return Err(Error::Invalid {
                    name: "channel",
                    value: channel.to_string(),
                    allowed: "a channel of a single layer; drop it or name one layer".into(),
                });
            }
            ([(blob, w)], None) if *w == 1.0 => Objective::Layer(*blob),
            _ => Objective::Layers(layer),
        };
        p.validate()?;
        Ok(p)
    }

    /// Parses a URL query string (`layer=…&octaves=…`, with or without `?`), decoded the way
    /// browsers decode forms (`+` is a space, `%XX` a byte), so that whatever the page or a
    /// hand-typed link puts in the URL means what [`DreamParams::to_query`] meant.
    pub fn from_query(query: &str) -> Result<Self, Error> {
        Self::from_pairs(pairs(query))
    }

    /// A link's recipe: [`DreamParams::from_query`] over the keys that are the recipe's, so the
    /// tracking keys messengers add (`fbclid`, `utm_source`) do not turn a link away; the
    /// recipe's own keys are still checked.
    pub fn from_link(query: &str) -> Result<Self, Error> {
        Self::from_pairs(
            pairs(query)
                .into_iter()
                .filter(|(k, _)| option(k).is_some()),
        )
    }

    /// The recipe as a URL query string (without `?`), every option that is on, in the table's
    /// order, each value percent-encoded where a URL would change it (`+` as `%2B`), so it
    /// reads back as itself.
    pub fn to_query(&self) -> String {
        OPTIONS
            .iter()
            .filter_map(|o| (o.get)(self).map(|v| format!("{}={}", o.key, encode(&v))))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// A URL query string (with or without `?`) as decoded `key=value` pairs, in order.
pub fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-encodes every byte but letters, digits and `-._~/*,:`: what a recipe's values use,
/// kept readable, while `+`, `&`, `=`, `#`, `%` and spaces cannot be misread.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/*,:".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Form decoding, as `URLSearchParams` does it: `+` is a space, `%XX` a byte, and a `%` not
/// followed by two hex digits stays as it is.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (byte, _) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trips() {
        let p = DreamParams::from_pairs([
            ("layer", "inception_3b/output"),
            ("channel", "7"),
            ("steps", "3"),
        ])
        .unwrap();
        assert_eq!(
            p.objective,
            Objective::Channel {
                blob: "inception_3b/output".parse().unwrap(),
                channel: 7
            }
        );
        let again = DreamParams::from_pairs(
            p.to_query()
                .split('&')
                .map(|kv| kv.split_once('=').unwrap()),
        )
        .unwrap();
        assert_eq!(again, p);
        assert!(DreamParams::default().to_query().starts_with(
            "layer=inception_4c/output&octaves=4&octave-scale=1.4&steps=10&step-size=1.5&jitter=32"
        ));
    }

    #[test]
    fn several_layers_with_weights() {
        let p = DreamParams::from_pairs([("layer", "inception_4c/output*2+inception_3b/output")])
            .unwrap();
        assert_eq!(p.objective.blobs().len(), 2);
        assert!(
            p.to_query()
                .starts_with("layer=inception_4c/output*2%2Binception_3b/output*1&")
        );
    }

    /// A random valid recipe: every kind of objective, values anywhere in their ranges.
    fn random_recipe(rng: &mut crate::dream::rng::Rng) -> DreamParams {
        let mut pick = |n: usize| (rng.symmetric(n) + n as i64) as usize % n;
        let blobs = Blob::dreamable_all();
        let blob = blobs[pick(blobs.len())];
        let objective = match pick(3) {
            0 => Objective::Layer(blob),
            1 => Objective::Channel {
                blob,
                channel: pick(blob.channels()),
            },
            _ => Objective::Layers(
                (0..2 + pick(3))
                    .map(|_| {
                        let weight = (pick(20001) as f32 - 10000.0) / 997.0;
                        (blobs[pick(blobs.len())], weight)
                    })
                    .collect(),
            ),
        };
        let min_tile = 64.max(objective.deepest().min_input());
        let noise = pick(3) == 0;
        // A still's recipe leaves the motion out, so only an animation's is random.
        let motion = if pick(2) == 0 {
            DreamParams::default()
        } else {
            DreamParams {
                frames: 1 + pick(500),
                zoom: 0.5 + (1 + pick(1500)) as f32 / 1000.0,
                rotate: (pick(3601) as f32 - 1800.0) / 10.0,
                steps_per_frame: 1 + pick(100),
                fps: 1 + pick(120),
                ..DreamParams::default()
            }
        };
        let guide = !noise && matches!(objective, Objective::Layer(_)) && pick(2) == 0;
        DreamParams {
            start: if noise { Start::Noise } else { Start::Photo },
            // An animation's even side must still fit the layer.
            size: objective.deepest().min_input().max(16)
                + usize::from(motion.frames > 0)
                + pick(300),
            passes: 1 + pick(100),
            lapnorm: pick(9),
            keep_colors: !noise && pick(2) == 0,
            guide,
            octaves: 1 + pick(12),
            octave_scale: 1.0 + (1 + pick(3000)) as f32 / 1000.0,
            steps: 1 + pick(1000),
            step_size: (1 + pick(100_000)) as f32 / 1000.0,
            jitter: pick(513),
            tile: min_tile + pick(4096 - min_tile + 1),
            seed: pick(1 << 30) as u64 * 4099,
            max_size: 16 + pick(16384 - 16 + 1),
            objective,
            ..motion
        }
    }

    #[test]
    fn every_recipe_written_reads_back_as_itself() {
        let mut rng = crate::dream::rng::Rng::new(7);
        for _ in 0..2000 {
            let p = random_recipe(&mut rng);
            p.validate().unwrap();
            let query = p.to_query();
            // Read as a link (form decoding, `+` a space) and with a leading `?`.
            assert_eq!(DreamParams::from_query(&query).unwrap(), p, "{query}");
            assert_eq!(DreamParams::from_query(&format!("?{query}")).unwrap(), p);
            assert!(!query.contains(['+', ' ', '#']), "{query}");
        }
    }

    #[test]
    fn links_typed_by_hand_and_by_the_browser_read_alike() {
        let several = |q: &str| DreamParams::from_query(q).unwrap().objective;
        let want = several("layer=inception_3b/output*2%2Binception_4a/output");
        assert_eq!(want.blobs().len(), 2);
        // URLSearchParams' own encoding, a raw `+` (read as a space), and a literal space.
        assert_eq!(
            several("layer=inception_3b%2Foutput*2%2Binception_4a%2Foutput"),
            want
        );
        assert_eq!(
            several("layer=inception_3b/output*2+inception_4a/output"),
            want
        );
        assert_eq!(
            several("layer=inception_3b/output*2%20inception_4a/output"),
            want
        );
        // A stray `%` is kept as it is, as browsers do, and then named as a bad value.
        let err = DreamParams::from_query("steps=5%").unwrap_err().to_string();
        assert!(err.contains("steps = 5%"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let err = |k: &str, v: &str| DreamParams::from_pairs([(k, v)]).unwrap_err().to_string();
        assert!(
            err("steps", "-3")
                .contains("steps = -3 is out of range: a whole number from 1 to 1000")
        );
        assert!(
            err("octave-scale", "NaN")
                .contains("octave-scale = NaN is out of range: a number above 1 and at most 4")
        );
        // Every option's refusal names its range, whether the value did not parse or was out
        // of it.
        let numeric = OPTIONS.iter().filter(|o| {
            matches!(
                o.kind,
                Kind::Whole { .. } | Kind::Real { .. } | Kind::Channel
            )
        });
        for key in numeric.map(|o| o.key) {
            for value in ["x", "-1", "1e99", "99999999999999999999999"] {
                let message = err(key, value);
                assert!(message.contains(&allowed(key)), "{message}");
                assert!(
                    [" from ", " above "].iter().any(|w| message.contains(w)),
                    "{message}"
                );
            }
        }
        assert!(err("octave-scale", "0.9").contains("above 1"));
        assert!(
            err("layer", "inception_9z/output").contains("unknown layer 'inception_9z/output'")
        );
        assert!(err("colour", "red").contains("recipe key = colour"));
    }

    #[test]
    fn a_link_ignores_keys_that_are_not_the_recipes() {
        let link =
            DreamParams::from_link("fbclid=IwAR0x&octaves=3&utm_source=chat&engine=cpu").unwrap();
        assert_eq!(link.octaves, 3);
        assert_eq!(
            link.to_query(),
            DreamParams::from_query("octaves=3").unwrap().to_query()
        );
        // The recipe's own keys are still checked, and the strict reader still refuses.
        assert!(DreamParams::from_link("fbclid=x&octaves=zero").is_err());
        assert!(DreamParams::from_query("fbclid=x&octaves=3").is_err());
    }

    #[test]
    fn an_animation_from_noise_refuses_a_size_that_evenness_makes_too_small() {
        // A layer whose smallest input is odd: that size dreams still, but a video's frames
        // have even sides, one pixel less, below the minimum.
        let blob = Blob::dreamable_all()
            .into_iter()
            .find(|b| b.min_input() % 2 == 1 && b.min_input() > 16)
            .expect("a layer with an odd minimum input");
        let still = format!("layer={blob}&start=noise&size={}", blob.min_input());
        assert!(DreamParams::from_query(&still).is_ok());
        let err = DreamParams::from_query(&format!("{still}&frames=4"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("size") && err.contains("even sides"), "{err}");
        let even = format!(
            "layer={blob}&start=noise&size={}&frames=4",
            blob.min_input() + 1
        );
        assert!(DreamParams::from_query(&even).is_ok());
    }
}
