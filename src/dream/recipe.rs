//! The recipe as text: `key=value` pairs under the command line's option names. The page keeps
//! it in its URL, results carry it in their PNG, and both faces parse it here, so a link, a
//! file and a command all mean the same dream.

use std::fmt::Display;
use std::str::FromStr;

use super::params::{DreamParams, Objective};
use crate::Error;
use crate::model::Blob;

/// Recipe keys, in the order [`DreamParams::to_query`] writes them.
pub const KEYS: [&str; 10] = [
    "layer",
    "channel",
    "octaves",
    "octave-scale",
    "steps",
    "step-size",
    "jitter",
    "tile",
    "seed",
    "max-size",
];

fn number<T: FromStr>(name: &'static str, value: &str, what: &str) -> Result<T, Error> {
    value.trim().parse().map_err(|_| Error::Invalid {
        name,
        value: value.to_string(),
        allowed: what.to_string(),
    })
}

fn real(name: &'static str, value: &str) -> Result<f32, Error> {
    let x: f32 = number(name, value, "a number")?;
    if x.is_nan() {
        return Err(Error::Invalid {
            name,
            value: value.to_string(),
            allowed: "a number, not NaN".into(),
        });
    }
    Ok(x)
}

/// `name` or `name*weight`, joined by `+`.
fn layers(value: &str) -> Result<Vec<(Blob, f32)>, Error> {
    value
        .split('+')
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
        let mut p = DreamParams::default();
        let mut layer = None;
        let mut channel = None;
        for (key, value) in pairs {
            let value = value.as_ref();
            match key.as_ref() {
                "layer" => layer = Some(layers(value)?),
                "channel" => channel = Some(number("channel", value, "a whole number")?),
                "octaves" => p.octaves = number("octaves", value, "a whole number")?,
                "octave-scale" => p.octave_scale = real("octave-scale", value)?,
                "steps" => p.steps = number("steps", value, "a whole number")?,
                "step-size" => p.step_size = real("step-size", value)?,
                "jitter" => p.jitter = number("jitter", value, "a whole number of pixels")?,
                "tile" => p.tile = number("tile", value, "a whole number of pixels")?,
                "seed" => p.seed = number("seed", value, "a whole number")?,
                "max-size" => p.max_size = number("max-size", value, "a whole number of pixels")?,
                other => {
                    return Err(Error::Invalid {
                        name: "recipe key",
                        value: other.to_string(),
                        allowed: format!("one of {}", KEYS.join(", ")),
                    });
                }
            }
        }
        let layer = layer.unwrap_or_else(|| vec![(Blob::CANONICAL, 1.0)]);
        p.objective = match (layer.as_slice(), channel) {
            ([(blob, _)], Some(channel)) => Objective::Channel {
                blob: *blob,
                channel,
            },
            (_, Some(_)) => {
                return Err(Error::Invalid {
                    name: "channel",
                    value: format!("{channel:?}"),
                    allowed: "a channel of a single layer; drop it or name one layer".into(),
                });
            }
            ([(blob, w)], None) if *w == 1.0 => Objective::Layer(*blob),
            _ => Objective::Layers(layer),
        };
        p.validate()?;
        Ok(p)
    }

    /// The recipe as a URL query string (without `?`), every key present.
    pub fn to_query(&self) -> String {
        let (layer, channel) = match &self.objective {
            Objective::Layer(blob) => (blob.name(), None),
            Objective::Channel { blob, channel } => (blob.name(), Some(*channel)),
            Objective::Layers(layers) => (
                layers
                    .iter()
                    .map(|(b, w)| format!("{b}*{w}"))
                    .collect::<Vec<_>>()
                    .join("+"),
                None,
            ),
        };
        let mut pairs: Vec<(&str, String)> = vec![("layer", layer)];
        if let Some(channel) = channel {
            pairs.push(("channel", channel.to_string()));
        }
        let rest: [(&str, &dyn Display); 8] = [
            ("octaves", &self.octaves),
            ("octave-scale", &self.octave_scale),
            ("steps", &self.steps),
            ("step-size", &self.step_size),
            ("jitter", &self.jitter),
            ("tile", &self.tile),
            ("seed", &self.seed),
            ("max-size", &self.max_size),
        ];
        pairs.extend(rest.iter().map(|(k, v)| (*k, v.to_string())));
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }
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
                .starts_with("layer=inception_4c/output*2+inception_3b/output*1&")
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = |k: &str, v: &str| DreamParams::from_pairs([(k, v)]).unwrap_err().to_string();
        assert!(err("steps", "-3").contains("steps = -3"));
        assert!(err("octave-scale", "NaN").contains("octave-scale = NaN"));
        assert!(err("octave-scale", "0.9").contains("above 1"));
        assert!(
            err("layer", "inception_9z/output").contains("unknown layer 'inception_9z/output'")
        );
        assert!(err("colour", "red").contains("recipe key = colour"));
    }
}
