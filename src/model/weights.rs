//! Filling a [`GoogLeNet`] from the converter's safetensors file (f16 or f32 on the wire).

use burn::store::{FloatCastAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::{DType, Device};
use deepdream_weights::{CLASSES, FORMAT, FORMAT_KEY, LABELS_KEY};
use safetensors::SafeTensors;

use super::{ConvPath, GoogLeNet};
use crate::Error;

/// ImageNet class names in class-index order, shipped inside the weights file.
#[derive(Debug, Clone)]
pub struct Labels(Vec<String>);

impl Labels {
    /// Human-readable name of class `index` ("n02123045 tabby, tabby cat" -> "tabby, tabby cat").
    pub fn name(&self, index: usize) -> &str {
        let line = &self.0[index];
        line.split_once(' ').map_or(line.as_str(), |(_, name)| name)
    }
}

impl GoogLeNet {
    /// Builds the network on `device` from the bytes of `googlenet.safetensors`, and returns its
    /// class labels. Refuses files this version did not write rather than loading garbage.
    pub fn load(bytes: Vec<u8>, device: &Device) -> Result<(Self, Labels), Error> {
        let labels = read_labels(&bytes)?;
        let mut model = GoogLeNet::new(device);
        let mut store = SafetensorsStore::from_bytes(Some(bytes))
            .validate(true)
            .allow_partial(false)
            .with_from_adapter(FloatCastAdapter::to(DType::F32));
        let result = model
            .load_from(&mut store)
            .map_err(|e| Error::Weights(e.to_string()))?;
        if !result.errors.is_empty() || !result.missing.is_empty() {
            return Err(Error::Weights(format!("{result}")));
        }
        model.weights_changed(ConvPath::for_device(device));
        Ok((model, labels))
    }
}

fn read_labels(bytes: &[u8]) -> Result<Labels, Error> {
    let (_, metadata) = SafeTensors::read_metadata(bytes)
        .map_err(|e| Error::Weights(format!("not a safetensors file ({e})")))?;
    let meta = metadata.metadata().clone().unwrap_or_default();
    if meta.get(FORMAT_KEY).map(String::as_str) != Some(FORMAT) {
        return Err(Error::Weights(format!(
            "the file was not written by this version's converter (expected format {FORMAT}); run `make weights`"
        )));
    }
    let labels: Vec<String> = meta
        .get(LABELS_KEY)
        .map(|l| l.lines().map(str::to_string).collect())
        .unwrap_or_default();
    if labels.len() != CLASSES {
        return Err(Error::Weights(format!(
            "it holds {} labels, not {CLASSES}",
            labels.len()
        )));
    }
    Ok(Labels(labels))
}
