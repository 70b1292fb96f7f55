//! A recipe as text: a URL query (or the command line's `key=value` pairs) read over the
//! defaults and checked against the table's rows, and written back as a query that reads as
//! itself. Links, PNGs and the command line all go through here.

use super::objective::Objective;
use super::params::{DreamParams, NOISE_LAPNORM, Start};
use super::recipe::{Draft, OPTIONS, option};
use crate::Error;
use crate::model::Blob;

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
    use crate::dream::recipe::{Kind, allowed};

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
