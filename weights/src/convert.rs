//! caffejs per-layer float32 dumps -> one safetensors file (filters OIHW, labels in the metadata).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::layout::{CLASSES, LayerSpec, layers};

/// Where the public copy of the source files lives, for the message shown when they are missing.
pub const UPSTREAM: &str = "https://github.com/chaosmail/caffejs/tree/gh-pages/models/bvlc_googlenet/weights \
(labels: https://github.com/chaosmail/caffejs/tree/gh-pages/data/ilsvrc12/synset_words.txt)";

/// Expected sha256 of every source file, relative to the caffejs repository root.
const SHA256SUMS: &str = include_str!("../SHA256SUMS");

/// Metadata key holding the 1000 class labels, one per line in class-index order.
pub const LABELS_KEY: &str = "labels";
/// Metadata key naming this file's layout, so a stale or foreign file is refused by name.
pub const FORMAT_KEY: &str = "format";
/// Value of [`FORMAT_KEY`] written by this converter.
pub const FORMAT: &str = "deepdream-googlenet/1";

const LABELS_FILE: &str = "data/ilsvrc12/synset_words.txt";

/// Precision of the tensors written to the output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireDtype {
    /// Half precision: half the download; the engine widens to f32 on load.
    F16,
    /// Full precision, bit-identical to the Caffe model.
    F32,
}

impl fmt::Display for WireDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireDtype::F16 => "f16",
            WireDtype::F32 => "f32",
        })
    }
}

impl std::str::FromStr for WireDtype {
    type Err = ConvertError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "f16" => Ok(WireDtype::F16),
            "f32" => Ok(WireDtype::F32),
            other => Err(ConvertError::Dtype(other.to_string())),
        }
    }
}

/// Why a conversion failed, worded for the person running it.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The source folder lacks files; lists them and where to get them.
    #[error(
        "the GoogLeNet source weights are missing from {dir}: {count} of the {total} files needed are absent (first: {first}). \
Point DEEPDREAM_WEIGHTS_SRC (or --src) at a copy of the caffejs files, laid out as in the caffejs repository \
(models/bvlc_googlenet/weights/<layer>_filter.bin and _bias.bin for all 58 layers, and data/ilsvrc12/synset_words.txt), \
available from {UPSTREAM}",
        count = missing.len(),
        first = missing[0]
    )]
    Missing {
        /// The folder that was searched.
        dir: PathBuf,
        /// Files not found, relative to `dir`.
        missing: Vec<String>,
        /// How many files are needed in all.
        total: usize,
    },
    /// A source file is not the published one.
    #[error(
        "{file} does not match its published sha256 (expected {expected}, found {found}): the download is corrupt or not the BVLC GoogLeNet from caffejs"
    )]
    Checksum {
        /// The file, relative to the source folder.
        file: String,
        /// Hash from SHA256SUMS.
        expected: String,
        /// Hash of the file on disk.
        found: String,
    },
    /// Reading or writing a file failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// "read" or "write".
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// An unknown `--dtype`.
    #[error("unknown weights precision '{0}': use f16 or f32")]
    Dtype(String),
    /// The label list does not have one line per class.
    #[error("{LABELS_FILE} has {0} labels; GoogLeNet has {CLASSES} classes")]
    Labels(usize),
}

fn filter_file(layer: &LayerSpec) -> String {
    format!("models/bvlc_googlenet/weights/{}_filter.bin", layer.caffe)
}

fn bias_file(layer: &LayerSpec) -> String {
    format!("models/bvlc_googlenet/weights/{}_bias.bin", layer.caffe)
}

/// Every source file the converter reads, relative to the caffejs root.
pub fn source_files() -> Vec<String> {
    let mut files: Vec<String> = layers()
        .iter()
        .flat_map(|l| [filter_file(l), bias_file(l)])
        .collect();
    files.push(LABELS_FILE.to_string());
    files
}

fn expected_sha256(file: &str) -> &'static str {
    SHA256SUMS
        .lines()
        .find_map(|line| {
            let (hash, name) = line.split_once("  ")?;
            (name == file).then_some(hash)
        })
        .unwrap_or_else(|| panic!("SHA256SUMS has no entry for {file}"))
}

fn read_checked(dir: &Path, file: &str) -> Result<Vec<u8>, ConvertError> {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).map_err(|source| ConvertError::Io {
        action: "read",
        path: path.clone(),
        source,
    })?;
    let found = hex(&Sha256::digest(&bytes));
    let expected = expected_sha256(file);
    if found != expected {
        return Err(ConvertError::Checksum {
            file: file.to_string(),
            expected: expected.to_string(),
            found,
        });
    }
    Ok(bytes)
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// OHWI (caffejs) -> OIHW (Caffe, Burn). No kernel flip: caffejs applied none.
fn ohwi_to_oihw(src: &[f32], layer: &LayerSpec) -> Vec<f32> {
    let (o, i, k) = (layer.out, layer.input, layer.kernel);
    let mut dst = vec![0.0; src.len()];
    for oc in 0..o {
        for y in 0..k {
            for x in 0..k {
                for ic in 0..i {
                    dst[((oc * i + ic) * k + y) * k + x] = src[((oc * k + y) * k + x) * i + ic];
                }
            }
        }
    }
    dst
}

/// [out, in] (Caffe InnerProduct) -> [in, out] (Burn `Linear`).
fn transpose(src: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut dst = vec![0.0; src.len()];
    for r in 0..rows {
        for c in 0..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
    dst
}

fn encode(values: &[f32], dtype: WireDtype) -> Vec<u8> {
    match dtype {
        WireDtype::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        WireDtype::F16 => values
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect(),
    }
}

/// Reads and checks every caffejs file under `src` and returns the safetensors file's bytes.
pub fn convert(src: &Path, dtype: WireDtype) -> Result<Vec<u8>, ConvertError> {
    let files = source_files();
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !src.join(f).is_file())
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(ConvertError::Missing {
            dir: src.to_path_buf(),
            missing,
            total: files.len(),
        });
    }

    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for layer in layers() {
        let filter = f32s(&read_checked(src, &filter_file(&layer))?);
        let bias = f32s(&read_checked(src, &bias_file(&layer))?);
        // The checksums pin the sizes too; these asserts guard the layout table itself.
        assert_eq!(filter.len(), layer.filter_len(), "{} filter", layer.caffe);
        assert_eq!(bias.len(), layer.out, "{} bias", layer.caffe);
        let (weight, shape) = if layer.is_linear() {
            (
                transpose(&filter, layer.out, layer.input),
                vec![layer.input, layer.out],
            )
        } else {
            let k = layer.kernel;
            (
                ohwi_to_oihw(&filter, &layer),
                vec![layer.out, layer.input, k, k],
            )
        };
        tensors.push((
            format!("{}.weight", layer.key),
            shape,
            encode(&weight, dtype),
        ));
        tensors.push((
            format!("{}.bias", layer.key),
            vec![layer.out],
            encode(&bias, dtype),
        ));
    }

    let labels_raw = read_checked(src, LABELS_FILE)?;
    let labels: Vec<&str> = std::str::from_utf8(&labels_raw)
        .map_err(|_| ConvertError::Labels(0))?
        .lines()
        .filter(|l| !l.is_empty())
        .collect();
    if labels.len() != CLASSES {
        return Err(ConvertError::Labels(labels.len()));
    }

    let metadata = BTreeMap::from([
        (FORMAT_KEY.to_string(), FORMAT.to_string()),
        (LABELS_KEY.to_string(), labels.join("\n")),
        ("dtype".to_string(), dtype.to_string()),
        (
            "source".to_string(),
            "BVLC GoogLeNet (bvlc_googlenet.caffemodel) via caffejs per-layer dumps".to_string(),
        ),
    ]);
    let wire = match dtype {
        WireDtype::F16 => "F16",
        WireDtype::F32 => "F32",
    };
    Ok(safetensors_bytes(&tensors, &metadata, wire))
}

/// A JSON string literal.
fn json(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The safetensors layout (8-byte header length, JSON header padded to 8 bytes, tensor data),
/// written with every key in sorted order: the same weights always give the same bytes, so the
/// sha256 that browsers cache them under only changes when the weights do.
fn safetensors_bytes(
    tensors: &[(String, Vec<usize>, Vec<u8>)],
    metadata: &BTreeMap<String, String>,
    dtype: &str,
) -> Vec<u8> {
    let mut sorted: Vec<&(String, Vec<usize>, Vec<u8>)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let meta: Vec<String> = metadata
        .iter()
        .map(|(k, v)| format!("{}:{}", json(k), json(v)))
        .collect();
    let mut header = format!("{{\"__metadata__\":{{{}}}", meta.join(","));
    let mut offset = 0;
    for (name, shape, data) in &sorted {
        let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
        header.push_str(&format!(
            ",{}:{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{offset},{}]}}",
            json(name),
            dims.join(","),
            offset + data.len()
        ));
        offset += data.len();
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend((header.len() as u64).to_le_bytes());
    out.extend(header.as_bytes());
    for (_, _, data) in sorted {
        out.extend(data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_file_has_a_checksum() {
        for file in source_files() {
            assert_eq!(expected_sha256(&file).len(), 64, "{file}");
        }
        assert_eq!(source_files().len(), 117);
    }

    #[test]
    fn ohwi_becomes_oihw() {
        // out=2, k=2, in=3: value encodes its OHWI position as o*100 + y*10 + x + i/10.
        let layer = LayerSpec {
            caffe: "t".into(),
            key: "t".into(),
            out: 2,
            input: 3,
            kernel: 2,
        };
        let mut src = Vec::new();
        for o in 0..2 {
            for y in 0..2 {
                for x in 0..2 {
                    for i in 0..3 {
                        src.push(o as f32 * 100.0 + y as f32 * 10.0 + x as f32 + i as f32 / 10.0);
                    }
                }
            }
        }
        let dst = ohwi_to_oihw(&src, &layer);
        // OIHW index of (o=1, i=2, y=1, x=0).
        assert_eq!(dst[((3 + 2) * 2 + 1) * 2], 110.2);
    }

    #[test]
    fn the_file_is_standard_safetensors_and_the_same_every_time() {
        let tensors = vec![
            (
                "b.weight".to_string(),
                vec![2, 1],
                encode(&[1.0, -2.5], WireDtype::F32),
            ),
            (
                "a.bias".to_string(),
                vec![1],
                encode(&[0.5], WireDtype::F32),
            ),
        ];
        let metadata: BTreeMap<String, String> = (0..20)
            .map(|i| (format!("key{i}"), format!("a \"quoted\\ line\n{i}")))
            .collect();
        let bytes = safetensors_bytes(&tensors, &metadata, "F32");
        assert_eq!(bytes, safetensors_bytes(&tensors, &metadata, "F32"));
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let b = file.tensor("b.weight").unwrap();
        assert_eq!(b.shape(), &[2, 1]);
        assert_eq!(b.data(), encode(&[1.0, -2.5], WireDtype::F32).as_slice());
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(
            meta.metadata().as_ref().unwrap()["key7"],
            "a \"quoted\\ line\n7"
        );
    }

    #[test]
    fn missing_folder_names_what_is_needed_and_where_to_get_it() {
        let err = convert(Path::new("/nonexistent/caffejs"), WireDtype::F16).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("117 of the 117 files"), "{text}");
        assert!(text.contains("chaosmail/caffejs"), "{text}");
        assert!(text.contains("DEEPDREAM_WEIGHTS_SRC"), "{text}");
    }

    #[test]
    fn a_tampered_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("dd-weights-{}", std::process::id()));
        for file in source_files() {
            let path = dir.join(&file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"not the real weights").unwrap();
        }
        let err = convert(&dir, WireDtype::F32).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(err, ConvertError::Checksum { .. }), "{err}");
    }
}
