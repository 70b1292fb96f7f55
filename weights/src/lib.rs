//! BVLC GoogLeNet's layer table and the converter from caffejs's per-layer dumps to the one
//! weights file the DeepDream engine loads. Kept apart from the engine so the build converts the
//! weights in seconds, without compiling a GPU stack first.

pub mod convert;
pub mod layout;

pub use convert::{ConvertError, FORMAT, FORMAT_KEY, LABELS_KEY, WireDtype, convert, hex};
pub use layout::{BRANCHES, CLASSES, INCEPTIONS, InceptionSpec, LayerSpec, layers};
