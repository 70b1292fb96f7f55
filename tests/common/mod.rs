//! Shared by the integration tests: the real weights, the test photos, and the devices.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use burn::tensor::{Device, Tensor};
use deepdream::image_io;
use deepdream::model::{GoogLeNet, Labels};
use image::RgbImage;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn weights_path() -> PathBuf {
    std::env::var_os("DEEPDREAM_WEIGHTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("weights/googlenet.safetensors"))
}

fn weights() -> Vec<u8> {
    let path = weights_path();
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "the real weights are needed at {} ({e}): run `make weights`",
            path.display()
        )
    })
}

/// The wgpu device (lavapipe on a machine without a GPU). wgpu may be set up once per process.
pub fn gpu() -> Device {
    static GPU: OnceLock<Device> = OnceLock::new();
    GPU.get_or_init(|| {
        deepdream::device::gpu()
            .expect("a wgpu adapter (install mesa-vulkan-drivers)")
            .device
    })
    .clone()
}

/// The devices the tests cover: both by default, or those named in DEEPDREAM_TEST_DEVICES.
pub fn devices() -> Vec<(&'static str, Device)> {
    let wanted = std::env::var("DEEPDREAM_TEST_DEVICES").unwrap_or_else(|_| "cpu,gpu".into());
    let mut devices = Vec::new();
    if wanted.split(',').any(|d| d == "cpu") {
        devices.push(("cpu", deepdream::device::cpu()));
    }
    if wanted.split(',').any(|d| d == "gpu") {
        devices.push(("gpu", gpu()));
    }
    assert!(
        !devices.is_empty(),
        "DEEPDREAM_TEST_DEVICES names no device: {wanted}"
    );
    devices
}

pub fn model(device: &Device) -> (GoogLeNet, Labels) {
    GoogLeNet::load(weights(), device).expect("the weights load")
}

pub fn photo(name: &str) -> RgbImage {
    let bytes = std::fs::read(root().join("tests/images").join(name)).expect("test photo");
    image_io::decode(&bytes).expect("decodes").rgb
}

pub fn crop(name: &str, top: u32, left: u32, h: u32, w: u32) -> RgbImage {
    image::imageops::crop_imm(&photo(name), left, top, w, h).to_image()
}

pub fn read(t: Tensor<4>) -> Vec<f32> {
    pollster::block_on(t.into_data_async())
        .unwrap()
        .try_to_vec::<f32>()
        .unwrap()
}
