//! `deepdream bench`: what the engine costs on this machine, printed for the tables in
//! docs/performance.md. Native only.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use crate::animation::Animation;
use crate::device;
use crate::dream::gallery::Gallery;
use crate::dream::{self, Dream, DreamParams};
use crate::image_io;
use crate::local::{Loaded, Usage, megabytes, peak_rss};
use crate::model::{Blob, ConvPath};

/// The photo the benchmark dreams on (CC0, from scikit-image).
const BENCH_PHOTO: &[u8] = include_bytes!("../tests/images/coffee.png");

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// A kernel's type name without its path and generics (`conv_tiled::ConvTiled<..>` → `ConvTiled`).
fn short_kernel(name: &str) -> &str {
    let name = name.split('<').next().unwrap_or(name);
    name.rsplit("::").next().unwrap_or(name)
}

/// Runs `f` once to warm up (kernel compilation, autotune), then `runs` times; the median.
fn time(runs: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<Duration, String> {
    f()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
    }
    Ok(median(times))
}

/// Median times of a gradient step at each of `sizes`, the canonical preset at 512 px, a gallery
/// batch and a zoom frame, with the dispatches a step issues; tab-separated on stdout.
pub fn steps(runs: usize, sizes: &[u32], loaded: &Loaded) -> Result<(), String> {
    let runs = runs.max(1);
    let Loaded {
        model,
        device,
        limits,
        backend,
        ..
    } = loaded;
    let photo = image_io::decode(BENCH_PHOTO).map_err(|e| e.to_string())?;
    println!("backend\t{backend}");
    println!("convolutions\t{:?}", ConvPath::for_device(device));
    println!("what\tsize\tmedian_ms\truns");
    for &side in sizes {
        let rgb = image::imageops::resize(
            &photo.rgb,
            side,
            side,
            image::imageops::FilterType::Triangle,
        );
        let params = DreamParams {
            octaves: 1,
            steps: 1,
            tile: side as usize,
            ..DreamParams::default()
        };
        let fresh = || {
            Dream::new(
                model,
                image_io::to_tensor(&rgb, device),
                params.clone(),
                limits,
            )
            .map_err(|e| e.to_string())
        };
        let median = time(runs, || {
            let mut dream = fresh()?;
            dream.step().map_err(|e| e.to_string())?;
            pollster::block_on(image_io::from_tensor(dream.preview()))
                .map_err(|e| e.to_string())?;
            Ok(())
        })?;
        println!(
            "gradient step (inception_4c/output)\t{side}x{side}\t{:.1}\t{runs}",
            median.as_secs_f64() * 1e3
        );
        let mut dream = fresh()?;
        let (stepped, kernels) = device::dispatches(|| dream.step());
        stepped.map_err(|e| e.to_string())?;
        if !kernels.is_empty() {
            let count: usize = kernels.iter().map(|(_, n)| n).sum();
            let most: Vec<String> = kernels
                .iter()
                .take(8)
                .map(|(name, n)| format!("{n} {}", short_kernel(name)))
                .collect();
            println!("dispatches per step\t{side}x{side}\t{count}");
            println!("most dispatched\t{side}x{side}\t{}", most.join(", "));
        }
    }
    let rgb = image::imageops::resize(&photo.rgb, 512, 512, image::imageops::FilterType::Triangle);
    let preset_runs = runs.min(3);
    let median = time(preset_runs, || {
        let cancel = AtomicBool::new(false);
        let result = dream::run(
            model,
            image_io::to_tensor(&rgb, device),
            DreamParams::default(),
            limits,
            &cancel,
            |_, _| {},
        )
        .map_err(|e| e.to_string())?;
        pollster::block_on(image_io::from_tensor(result)).map_err(|e| e.to_string())?;
        Ok(())
    })?;
    println!(
        "canonical preset (4 octaves x 10 steps)\t512x512\t{:.1}\t{preset_runs}",
        median.as_secs_f64() * 1e3
    );
    // The gallery's default thumbnails: one batch of 8 channels, as the page renders them.
    let layer = Blob::CANONICAL;
    let (params, _) = dream::gallery::recipe(&layer.name(), "").map_err(|e| e.to_string())?;
    let channels: Vec<usize> = (0..8).collect();
    let median = time(preset_runs, || {
        let mut gallery =
            Gallery::new(model, device, layer, &channels, &params).map_err(|e| e.to_string())?;
        while gallery.step().map_err(|e| e.to_string())? {}
        pollster::block_on(image_io::from_tensor(gallery.images().narrow(0, 0, 1)))
            .map_err(|e| e.to_string())?;
        Ok(())
    })?;
    println!(
        "gallery batch (8 channels of {layer}, {0}x{0}, {1:.2} thumbnails/s)\t{0}x{0}\t{2:.1}\t{preset_runs}",
        params.size,
        channels.len() as f64 / median.as_secs_f64(),
        median.as_secs_f64() * 1e3
    );
    // An animation's frame after the first (zoom, turn, one octave of 5 steps) at 640x360.
    let rgb = image::imageops::resize(&photo.rgb, 640, 360, image::imageops::FilterType::Triangle);
    let png = image_io::encode_png(&rgb, None, "", &[]).map_err(|e| e.to_string())?;
    let params = DreamParams {
        frames: 1000,
        ..DreamParams::default()
    };
    let mut animation = Animation::open(model, device, limits, Some(&png), params, None)
        .map_err(|e| e.to_string())?;
    while animation.step().map_err(|e| e.to_string())?.is_some() {}
    let median = time(preset_runs, || {
        let rgb = pollster::block_on(animation.session().rgb()).map_err(|e| e.to_string())?;
        animation.advance(&rgb).map_err(|e| e.to_string())?;
        while animation.step().map_err(|e| e.to_string())?.is_some() {}
        Ok(())
    })?;
    println!(
        "zoom frame (after the first: 1 octave x 5 steps)\t640x360\t{:.1}\t{preset_runs}",
        median.as_secs_f64() * 1e3
    );
    Ok(())
}

/// One canonical dream of the bench photo scaled to `size` ("WxH"): time, tile, and peaks.
pub fn dream(size: &str, loaded: &Loaded) -> Result<(), String> {
    let parse = || -> Option<(u32, u32)> {
        let (w, h) = size.split_once(['x', 'X', '×'])?;
        Some((w.parse().ok()?, h.parse().ok()?))
    };
    let (w, h) = parse()
        .filter(|&(w, h)| w > 0 && h > 0 && w.max(h) <= 16384)
        .ok_or_else(|| format!("--dream {size}: give the size as WxH, e.g. 4000x3000"))?;
    let Loaded {
        model,
        device,
        limits,
        backend,
        ..
    } = loaded;
    let photo = image_io::decode(BENCH_PHOTO).map_err(|e| e.to_string())?;
    let rgb = image::imageops::resize(&photo.rgb, w, h, image::imageops::FilterType::Triangle);
    let params = DreamParams {
        max_size: w.max(h) as usize,
        ..DreamParams::default()
    };
    let started = Instant::now();
    let mut usage = Usage::default();
    let cancel = AtomicBool::new(false);
    let result = dream::run(
        model,
        image_io::to_tensor(&rgb, device),
        params,
        limits,
        &cancel,
        |dream, p| {
            usage.record(dream, device);
            eprint!("\rstep {}/{}", p.done, p.total);
        },
    )
    .map_err(|e| e.to_string())?;
    pollster::block_on(image_io::from_tensor(result)).map_err(|e| e.to_string())?;
    eprintln!();
    println!("backend\t{backend}");
    println!(
        "canonical dream\t{w}x{h}\t{:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("tile\t{} px", usage.tile);
    if usage.device_peak > 0 {
        println!(
            "device memory (allocator, peak after a step)\t{}",
            megabytes(usage.device_peak)
        );
    }
    if let Some(peak) = peak_rss() {
        println!("peak process memory\t{}", megabytes(peak));
    }
    Ok(())
}
