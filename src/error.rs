//! Every way the engine can refuse or fail, each worded as a sentence a user can act on.

/// An engine error; `Display` is the message both faces show as is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A layer name that is not one of GoogLeNet's blobs.
    #[error(
        "unknown layer '{0}': use a Caffe blob name such as inception_4c/output (`deepdream layers` lists them all)"
    )]
    UnknownLayer(String),
    /// A recipe value out of its range.
    #[error("{name} = {value} is out of range: {allowed}")]
    Invalid {
        /// The option's name, as on the command line.
        name: &'static str,
        /// The value given.
        value: String,
        /// The allowed range, in words.
        allowed: String,
    },
    /// The image is smaller than the asked layer's receptive field allows.
    #[error(
        "the image is {width}×{height} px, too small for layer {layer}, which needs at least {min}×{min} px"
    )]
    TooSmall {
        /// Image width.
        width: usize,
        /// Image height.
        height: usize,
        /// The layer asked for.
        layer: String,
        /// Smallest side that reaches it.
        min: usize,
    },
    /// A tensor with other than 3 channels was fed to the network.
    #[error("the network takes RGB images, not {0}-channel ones")]
    Channels(usize),
    /// The weights file is missing, corrupt or of another version.
    #[error("the weights file cannot be used: {0}")]
    Weights(String),
    /// The input is not a readable image.
    #[error("{0}")]
    Image(String),
    /// No GPU to run on: the browser or system offers no adapter, or none that gives a
    /// device. The CPU still works, so the faces offer it.
    #[error("no usable GPU was found ({0})")]
    NoGpu(String),
    /// The dream asks for more than this device allows (one buffer, memory per pass). Nothing
    /// failed: a smaller photo or tile works on the same device.
    #[error("{0}")]
    DeviceLimit(String),
    /// The compute device failed.
    #[error("the compute device failed: {0}")]
    Device(String),
    /// The GPU went away mid-dream (driver reset, GPU process crash, unplugged): every later
    /// operation on it fails, so the face must bring up a new engine.
    #[error("the GPU stopped working during the dream (device lost: {0})")]
    DeviceLost(String),
    /// The GPU refused an allocation.
    #[error(
        "the GPU ran out of memory during the dream: close other tabs or apps using the GPU, or lower max-size ({0})"
    )]
    OutOfMemory(String),
    /// A file could not be written (a folder missing or read-only, a full disk).
    #[error("{0}")]
    Write(String),
}

impl Error {
    /// Whether the device is unusable after this error and the engine must be created anew.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Error::DeviceLost(_) | Error::OutOfMemory(_))
    }

    /// What kind of error this is, for a face to act on (the page's script never reads the
    /// message): `recipe`, `image`, `weights`, `no-gpu`, `device-limit`, `device`,
    /// `device-lost`, `out-of-memory` or `write`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::UnknownLayer(_) | Error::Invalid { .. } => "recipe",
            Error::TooSmall { .. } | Error::Channels(_) | Error::Image(_) => "image",
            Error::Weights(_) => "weights",
            Error::NoGpu(_) => "no-gpu",
            Error::DeviceLimit(_) => "device-limit",
            Error::Device(_) => "device",
            Error::DeviceLost(_) => "device-lost",
            Error::OutOfMemory(_) => "out-of-memory",
            Error::Write(_) => "write",
        }
    }

    /// The error a failure report from the device stands for, worded for the user: a lost
    /// device and an out-of-memory get their own sentences.
    pub fn from_device(report: &str) -> Error {
        let lower = report.to_ascii_lowercase();
        // Burn's reports read "An error happened…\nCaused by:\n  <reason>\n<backtrace>".
        let reason = report
            .split_once("Caused by:")
            .map_or(report, |(_, after)| after)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("No backtrace"))
            .unwrap_or("no reason given")
            .to_string();
        if lower.contains("out of memory") || lower.contains("outofmemory") {
            Error::OutOfMemory(reason)
        } else if lower.contains("poisoned") || lower.contains("lost") {
            Error::DeviceLost(reason)
        } else {
            Error::Device(reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_reports_become_sentences() {
        let lost = Error::from_device(
            "The device is poisoned\nCaused by:\n  Destroyed: GPU process crashed",
        );
        assert!(lost.is_fatal());
        assert!(
            lost.to_string()
                .starts_with("the GPU stopped working during the dream"),
            "{lost}"
        );
        let oom = Error::from_device("wgpu error: Out of Memory");
        assert!(
            oom.is_fatal() && oom.to_string().contains("ran out of memory"),
            "{oom}"
        );
        let other = Error::from_device("a shader failed to compile");
        assert!(!other.is_fatal());
        assert_eq!(
            [lost.kind(), oom.kind(), other.kind()],
            ["device-lost", "out-of-memory", "device"]
        );
    }
}
