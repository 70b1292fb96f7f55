//! `gallery`: every channel of a layer visualised from noise, written as PNGs with a contact
//! sheet.

use std::time::Instant;

use deepdream::dream::gallery::Gallery;
use deepdream::dream::{self, DreamParams};
use deepdream::image_io;
use deepdream::writers::{contact_sheet, sheet_image};
use indicatif::{ProgressBar, ProgressStyle};

use super::GalleryArgs;

/// A channel list as `0-63`, `5,9,12` or a mix, each below `count`.
fn channel_list(text: &str, count: usize) -> Result<Vec<usize>, String> {
    let refuse = || {
        format!(
            "--channels {text}: give channels from 0 to {} as a list or ranges, e.g. 0-15,40",
            count - 1
        )
    };
    let mut list = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (
            a.trim().parse().map_err(|_| refuse())?,
            b.trim().parse().map_err(|_| refuse())?,
        );
        if a > b || b >= count {
            return Err(refuse());
        }
        list.extend(a..=b);
    }
    if list.is_empty() {
        return Err(refuse());
    }
    Ok(list)
}

/// `gallery`: every channel of a layer visualised from noise, a batch of channels per pass,
/// written as channel-NNNN.png (each with its recipe) and an index.html contact sheet.
pub(super) fn gallery(args: &GalleryArgs) -> Result<(), String> {
    // Thumbnails: the engine's gallery defaults (smaller and quicker than a single
    // visualisation), under the user's values.
    let (params, layer) = dream::gallery::recipe_of(args.recipe.pairs.iter().map(|(k, v)| (*k, v)))
        .map_err(|e| e.to_string())?;
    let channels = match &args.channels {
        Some(list) => channel_list(list, layer.channels())?,
        None => (0..layer.channels()).collect(),
    };
    std::fs::create_dir_all(&args.out_dir)
        .map_err(|e| format!("cannot make {}: {e}", args.out_dir.display()))?;
    let started = Instant::now();
    let loaded = args.engine.load()?;
    let bar = ProgressBar::new(channels.len() as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} channels, ~{eta} left")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(format!("{layer} on {}", loaded.backend));
    let mut names = Vec::with_capacity(channels.len());
    let mut thumbnails = Vec::with_capacity(channels.len());
    for batch in channels.chunks(args.batch as usize) {
        let mut gallery = Gallery::new(&loaded.model, &loaded.device, layer, batch, &params)
            .map_err(|e| e.to_string())?;
        while gallery.step().map_err(|e| e.to_string())? {}
        let images = gallery.images();
        for (k, (&channel, objective)) in batch.iter().zip(gallery.objectives()).enumerate() {
            let rgb = pollster::block_on(image_io::from_tensor(images.clone().narrow(0, k, 1)))
                .map_err(|e| e.to_string())?;
            let recipe = DreamParams {
                objective: objective.clone(),
                ..params.clone()
            }
            .to_query();
            let png = image_io::encode_png(&rgb, None, &recipe, &[]).map_err(|e| e.to_string())?;
            let name = format!("channel-{channel:04}.png");
            let path = args.out_dir.join(&name);
            std::fs::write(&path, png)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            names.push((channel, name));
            thumbnails.push(rgb);
        }
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    let index = args.out_dir.join("index.html");
    std::fs::write(&index, contact_sheet(layer, &names, &params))
        .map_err(|e| format!("cannot write {}: {e}", index.display()))?;
    let sheet = args.out_dir.join("sheet.png");
    let png = image_io::encode_png(&sheet_image(&thumbnails), None, &params.to_query(), &[])
        .map_err(|e| e.to_string())?;
    std::fs::write(&sheet, png).map_err(|e| format!("cannot write {}: {e}", sheet.display()))?;
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "deepdream: wrote {} channels of {layer} and {} in {secs:.1} s ({:.2} channels/s on {})",
        names.len(),
        index.display(),
        names.len() as f64 / secs,
        loaded.backend
    );
    Ok(())
}
