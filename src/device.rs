//! Choosing the Burn device the engine runs on, and what that device lets a dream use.

use burn::tensor::Device;
use burn::tensor::wgpu::wgpu;

/// Memory one gradient pass may take on a GPU. Neither WebGPU nor wgpu says how much memory a
/// GPU has, so this is a budget that an integrated GPU or a phone can hold next to the browser
/// and the full-size image buffers (144 MB each for a 12 MP photo: the image, its gradient and
/// the details still to re-inject).
pub const GPU_PASS_BUDGET: u64 = 512 << 20;
/// Memory one gradient pass may take on the CPU: a wasm instance has 4 GiB for everything.
pub const CPU_PASS_BUDGET: u64 = 512 << 20;

/// What a device lets a dream ask for: every buffer and every gradient pass stays inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest single buffer a shader may use, in bytes (WebGPU's `maxStorageBufferBindingSize`
    /// and `maxBufferSize`, whichever is smaller).
    pub max_buffer: u64,
    /// Memory one gradient pass may take, in bytes.
    pub pass_budget: u64,
}

impl Limits {
    /// WebGPU's guaranteed minimums: safe on any device, for callers that do not know theirs.
    pub const PORTABLE: Limits = Limits {
        max_buffer: 128 << 20,
        pass_budget: GPU_PASS_BUDGET,
    };

    /// A wgpu device's limits (cubecl asks the adapter for its maximums).
    pub fn of_wgpu(limits: &wgpu::Limits) -> Limits {
        Limits {
            max_buffer: limits
                .max_storage_buffer_binding_size
                .min(limits.max_buffer_size),
            pass_budget: GPU_PASS_BUDGET,
        }
    }

    /// The CPU backend: buffers live in ordinary memory (in wasm, under 4 GiB in all).
    pub fn cpu() -> Limits {
        Limits {
            max_buffer: if cfg!(target_family = "wasm") {
                1 << 30
            } else {
                u64::MAX
            },
            pass_budget: CPU_PASS_BUDGET,
        }
    }

    /// Most pixels an RGB image may have so that it fits one buffer as f32.
    pub fn max_pixels(&self) -> u64 {
        self.max_buffer / 12
    }
}

/// The CPU device; it always exists.
pub fn cpu() -> Device {
    Device::flex()
}

/// A wgpu device and what it runs on.
pub struct Gpu {
    /// The Burn device.
    pub device: Device,
    /// The adapter's name, for messages (e.g. "llvmpipe (LLVM 15.0.7, 256 bits)").
    pub adapter: String,
    /// Whether the adapter is a software rasterizer (lavapipe, SwiftShader): no GPU at all, and
    /// slower than Burn's own CPU backend.
    pub software: bool,
    /// What the device allows.
    pub limits: Limits,
}

impl Gpu {
    fn new(device: Device, setup: burn::tensor::wgpu::WgpuSetup) -> Gpu {
        let info = setup.adapter.get_info();
        // In the browser wgpu reports the adapter's `isFallbackAdapter` as a CPU device.
        let software = info.device_type == wgpu::DeviceType::Cpu;
        crate::model::found_gpu(software);
        Gpu {
            device,
            software,
            adapter: info.name,
            limits: Limits::of_wgpu(&setup.device.limits()),
        }
    }
}

fn no_adapter(e: impl std::fmt::Display) -> crate::Error {
    crate::Error::NoGpu(e.to_string())
}

/// The GPU device through wgpu (Vulkan, Metal or DX12), or the reason there is none.
#[cfg(not(target_family = "wasm"))]
pub fn gpu() -> Result<Gpu, crate::Error> {
    let (device, setup) = Device::wgpu_options()
        .init_with_setup()
        .map_err(no_adapter)?;
    Ok(Gpu::new(device, setup))
}

/// One wgpu device for all of a test run's tests: two set up at once in one process collide.
#[cfg(all(test, not(target_family = "wasm")))]
pub(crate) fn test_gpu() -> Device {
    static GPU: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    GPU.get_or_init(|| gpu().expect("a wgpu adapter").device)
        .clone()
}

/// The GPU device through the browser's WebGPU, or the reason there is none.
pub async fn gpu_async() -> Result<Gpu, crate::Error> {
    let (device, setup) = Device::wgpu_options()
        .init_with_setup_async()
        .await
        .map_err(no_adapter)?;
    Ok(Gpu::new(device, setup))
}

/// The kernels issued to the GPU (each one dispatch) on every CubeCL device of the process while
/// `f` runs, by name, most first: what a step costs in launches, apart from its arithmetic.
pub fn dispatches<T>(f: impl FnOnce() -> T) -> (T, Vec<(&'static str, usize)>) {
    use burn_cubecl::cubecl::logging::{LaunchObservation, LaunchObserver};
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Count(Mutex<HashMap<&'static str, usize>>);
    impl LaunchObserver for Count {
        fn launched(&self, kernel: &'static str) {
            *self.0.lock().unwrap().entry(kernel).or_default() += 1;
        }
    }
    let count = Arc::new(Count::default());
    let watching = LaunchObservation::new(count.clone());
    let value = f();
    drop(watching);
    let mut kernels: Vec<_> = count.0.lock().unwrap().drain().collect();
    kernels.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    (value, kernels)
}
