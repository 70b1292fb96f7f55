//! The command line's engine: the weights found on disk, the device chosen, and what a dream
//! used. Native only: the page gets its weights and device from the browser.

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::device::{self, Limits};
use crate::dream::Dream;
use crate::model::{GoogLeNet, Labels};

/// The weights' file name where `make install` puts them, and in the checkout's `weights/`.
const WEIGHTS_FILE: &str = "googlenet.safetensors";

/// Which device a command asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The GPU where there is a real one, else the CPU.
    Auto,
    /// The CPU (`--cpu`).
    Cpu,
    /// wgpu's adapter even when it is a software rasterizer (`--gpu`).
    Gpu,
}

/// The network on its device, and what that device allows.
pub struct Loaded {
    pub model: GoogLeNet,
    pub labels: Labels,
    pub device: Device,
    pub limits: Limits,
    pub backend: String,
}

/// Where the weights may be when neither --weights nor DEEPDREAM_WEIGHTS names them, in order:
/// the user's data directory (`make install`), an install prefix's share/ beside the binary,
/// and the checkout, so the tool works from any directory once installed.
pub fn weights_candidates() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    if let Some(data) = data_home {
        found.push(data.join("deepdream").join(WEIGHTS_FILE));
    }
    if let Some(bin) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        found.push(bin.join("../share/deepdream").join(WEIGHTS_FILE));
    }
    found.push(Path::new("weights").join(WEIGHTS_FILE));
    found
}

/// The weights file: `given` (--weights), else DEEPDREAM_WEIGHTS, else the first of
/// [`weights_candidates`] that exists.
pub fn weights_path(given: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(path) = given.or_else(|| std::env::var_os("DEEPDREAM_WEIGHTS").map(PathBuf::from)) {
        return Ok(path);
    }
    let candidates = weights_candidates();
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        let places: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        format!(
            "no weights file found (looked for {}): run `make install` in the checkout, or pass --weights PATH",
            places.join(", ")
        )
    })
}

/// Reads the weights and loads the network on the device `choice` picks: the GPU through wgpu
/// unless its only adapter is a software rasterizer (the CPU is faster then) or there is none.
pub fn load(weights: Option<PathBuf>, choice: Choice) -> Result<Loaded, String> {
    let path = weights_path(weights)?;
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "cannot read the weights file {} ({e}): run `make weights` in the checkout (or `make install`), or pass --weights PATH",
            path.display()
        )
    })?;
    let cpu = || (device::cpu(), Limits::cpu(), "cpu (flex)".to_string());
    let (device, limits, backend) = if choice == Choice::Cpu {
        cpu()
    } else {
        match device::gpu() {
            Ok(gpu) if gpu.software && choice != Choice::Gpu => {
                eprintln!(
                    "deepdream: the only GPU adapter is a software rasterizer ({}); running on the \
CPU backend, which is faster (--gpu uses the adapter anyway)",
                    gpu.adapter
                );
                cpu()
            }
            Ok(gpu) => (
                gpu.device,
                gpu.limits,
                format!("gpu (wgpu, {})", gpu.adapter),
            ),
            Err(e) => {
                eprintln!("deepdream: {e}; running on the CPU instead (slower)");
                cpu()
            }
        }
    };
    let (model, labels) =
        GoogLeNet::load(bytes, &device).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Loaded {
        model,
        labels,
        device,
        limits,
        backend,
    })
}

/// What a dream used, gathered after each step for the report at the end.
#[derive(Default)]
pub struct Usage {
    /// The tile side the dream chose.
    pub tile: usize,
    /// The most the device's allocator held after a step, in bytes (0 where it does not say).
    pub device_peak: u64,
}

impl Usage {
    /// Notes what `dream` holds after a step.
    pub fn record(&mut self, dream: &Dream, device: &Device) {
        self.tile = dream.tile();
        if let Some(pool) = device.memory_pool_usage() {
            self.device_peak = self.device_peak.max(pool.bytes_reserved);
        }
    }
}

/// `bytes` as whole megabytes, for reports.
pub fn megabytes(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

/// The most memory this process has held (Linux's VmHWM), or `None` where it is not known.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
