//! DeepDream on BVLC GoogLeNet with Burn: one engine that runs on any Burn device — WebGPU in
//! the browser, Vulkan/Metal/DX12 natively, or the pure-Rust `flex` CPU backend — behind two thin
//! faces, the `deepdream` command line and the web page's wasm module.

pub mod animation;
#[cfg(not(target_family = "wasm"))]
pub mod bench;
pub mod classify;
pub mod device;
pub mod dream;
mod error;
pub mod image_io;
#[cfg(not(target_family = "wasm"))]
pub mod local;
pub mod model;
pub mod session;
#[cfg(target_family = "wasm")]
pub mod web;
pub mod writers;

pub use error::Error;
