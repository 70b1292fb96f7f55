//! Choosing the Burn device the engine runs on.

use burn::tensor::Device;

/// The CPU device; it always exists.
pub fn cpu() -> Device {
    Device::flex()
}

/// The GPU device through wgpu, or the reason there is none.
#[cfg(not(target_family = "wasm"))]
pub fn gpu() -> Result<Device, crate::Error> {
    Device::wgpu_options()
        .init()
        .map_err(|e| crate::Error::Device(format!("no usable GPU adapter was found ({e})")))
}

/// The GPU device through the browser's WebGPU, or the reason there is none.
pub async fn gpu_async() -> Result<Device, crate::Error> {
    Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| crate::Error::Device(format!("no usable GPU adapter was found ({e})")))
}
