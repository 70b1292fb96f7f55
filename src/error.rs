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
    /// The compute device could not be set up or failed.
    #[error("the compute device failed: {0}")]
    Device(String),
}
