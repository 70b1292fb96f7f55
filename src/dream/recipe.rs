//! The recipe as text: `key=value` pairs under the command line's option names. The page keeps
//! it in its URL, results carry it in their PNG, and both faces parse it here, so a link, a
//! file and a command all mean the same dream.

use std::fmt::Display;
use std::str::FromStr;

use super::params::{DreamParams, Objective, allowed};
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

/// `value` as option `name`'s number; a refusal names the option's range.
fn number<T: FromStr>(name: &'static str, value: &str) -> Result<T, Error> {
    value.trim().parse().map_err(|_| Error::Invalid {
        name,
        value: value.to_string(),
        allowed: allowed(name),
    })
}

fn real(name: &'static str, value: &str) -> Result<f32, Error> {
    let x: f32 = number(name, value)?;
    if x.is_nan() {
        return Err(Error::Invalid {
            name,
            value: value.to_string(),
            allowed: allowed(name),
        });
    }
    Ok(x)
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
        let mut p = DreamParams::default();
        let mut layer = None;
        let mut channel = None;
        for (key, value) in pairs {
            let value = value.as_ref();
            match key.as_ref() {
                "layer" => layer = Some(layers(value)?),
                "channel" => channel = Some(number("channel", value)?),
                "octaves" => p.octaves = number("octaves", value)?,
                "octave-scale" => p.octave_scale = real("octave-scale", value)?,
                "steps" => p.steps = number("steps", value)?,
                "step-size" => p.step_size = real("step-size", value)?,
                "jitter" => p.jitter = number("jitter", value)?,
                "tile" => p.tile = number("tile", value)?,
                "seed" => p.seed = number("seed", value)?,
                "max-size" => p.max_size = number("max-size", value)?,
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

    /// Parses a URL query string (`layer=…&octaves=…`, with or without `?`), decoded the way
    /// browsers decode forms (`+` is a space, `%XX` a byte), so that whatever the page or a
    /// hand-typed link puts in the URL means what [`DreamParams::to_query`] meant.
    pub fn from_query(query: &str) -> Result<Self, Error> {
        let pairs = query
            .trim_start_matches('?')
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (decode(k), decode(v))
            });
        Self::from_pairs(pairs)
    }

    /// The recipe as a URL query string (without `?`), every key present, each value
    /// percent-encoded where a URL would change it (`+` as `%2B`), so it reads back as itself.
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
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
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
    use crate::dream::params::limits;

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
        let min_tile = limits::TILE.0.max(objective.deepest().min_input());
        DreamParams {
            octaves: 1 + pick(limits::OCTAVES.1),
            octave_scale: 1.0 + (1 + pick(3000)) as f32 / 1000.0,
            steps: 1 + pick(limits::STEPS.1),
            step_size: (1 + pick(100_000)) as f32 / 1000.0,
            jitter: pick(limits::JITTER + 1),
            tile: min_tile + pick(limits::TILE.1 - min_tile + 1),
            seed: pick(1 << 30) as u64 * 4099,
            max_size: limits::MAX_SIZE.0 + pick(limits::MAX_SIZE.1 - limits::MAX_SIZE.0 + 1),
            objective,
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
        for key in KEYS.into_iter().filter(|k| *k != "layer") {
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
}
