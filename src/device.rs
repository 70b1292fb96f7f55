//! Choosing the Burn device the engine runs on.

use burn::tensor::Device;

/// The CPU device; it always exists.
pub fn cpu() -> Device {
    Device::flex()
}

/// A wgpu device and what it runs on.
#[cfg(not(target_family = "wasm"))]
pub struct Gpu {
    /// The Burn device.
    pub device: Device,
    /// The adapter's name, for messages (e.g. "llvmpipe (LLVM 15.0.7, 256 bits)").
    pub adapter: String,
    /// Whether the adapter is a software rasterizer (lavapipe, SwiftShader): no GPU at all, and
    /// slower than Burn's own CPU backend.
    pub software: bool,
}

/// The GPU device through wgpu (Vulkan, Metal or DX12), or the reason there is none.
#[cfg(not(target_family = "wasm"))]
pub fn gpu() -> Result<Gpu, crate::Error> {
    let (device, setup) = Device::wgpu_options()
        .init_with_setup()
        .map_err(|e| crate::Error::Device(format!("no usable GPU adapter was found ({e})")))?;
    let info = setup.adapter.get_info();
    Ok(Gpu {
        device,
        software: info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu,
        adapter: info.name,
    })
}

/// The GPU device through the browser's WebGPU, or the reason there is none.
pub async fn gpu_async() -> Result<Device, crate::Error> {
    Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| crate::Error::Device(format!("no usable GPU adapter was found ({e})")))
}
