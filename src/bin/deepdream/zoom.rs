//! `zoom`: an infinite-zoom animation, written frame by frame.

use std::time::Instant;

use deepdream::animation::Animation;
use deepdream::session::Session;
use deepdream::writers::Frames;
use indicatif::{ProgressBar, ProgressStyle};

use super::ZoomArgs;
use super::dream::{stop_on_ctrl_c, stopped, writable};

/// Frames an animation writes unless --frames says otherwise: two seconds at 24 per second.
const ZOOM_FRAMES: &str = "48";

/// `zoom`: an infinite-zoom animation of a photo, frame by frame.
pub(super) fn zoom(args: &ZoomArgs) -> Result<(), String> {
    let mut extra = vec![("frames", ZOOM_FRAMES.to_string())];
    if args.guide.is_some() {
        extra.push(("guide", "1".to_string()));
    }
    let params = args.recipe.recipe(&extra)?;
    Frames::check(&args.output).map_err(|e| e.to_string())?;
    writable(&args.output, args.output.extension().is_none())?;
    stop_on_ctrl_c();
    let started = Instant::now();
    let photo = std::fs::read(&args.input)
        .map_err(|e| format!("cannot read {}: {e}", args.input.display()))?;
    // A bad photo or guide is refused before the network loads.
    Session::read(&photo, &params).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let guide = args
        .guide
        .as_deref()
        .map(|path| std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display())))
        .transpose()?;
    let loaded = args.engine.load()?;
    let mut animation = Animation::open(
        &loaded.model,
        &loaded.device,
        &loaded.limits,
        Some(&photo),
        params.clone(),
        guide.as_deref(),
    )
    .map_err(|e| format!("{}: {e}", args.input.display()))?;
    if let Some(note) = animation.session().note() {
        eprintln!("deepdream: {note}");
    }
    let size = animation.session().size();
    let mut frames = Frames::create(&args.output, &params, size).map_err(|e| e.to_string())?;
    let bar = ProgressBar::new(params.frames as u64).with_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} frames, {elapsed} elapsed, ~{eta} left",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(format!(
        "zooming {}×{} on {}",
        size.0, size.1, loaded.backend
    ));
    let mut first = None;
    let mut written = 0;
    loop {
        while !stopped() && animation.step().map_err(|e| e.to_string())?.is_some() {}
        // Ctrl-C drops a frame half dreamed, unless it is the first: then it is all there is.
        if stopped() && written > 0 {
            break;
        }
        let (frame, _) = animation.frame();
        let rgb = pollster::block_on(animation.session().rgb()).map_err(|e| e.to_string())?;
        frames
            .add(frame, &rgb, &params)
            .map_err(|e| e.to_string())?;
        written += 1;
        bar.inc(1);
        if frame == 0 {
            first = Some(started.elapsed());
        }
        if stopped() || !animation.advance(&rgb).map_err(|e| e.to_string())? {
            break;
        }
    }
    bar.finish_and_clear();
    frames
        .finish(written, params.frames)
        .map_err(|e| e.to_string())?;
    if stopped() {
        eprintln!(
            "deepdream: stopped (Ctrl-C) after {written} of {} frames: they are written",
            params.frames
        );
    }
    let total = started.elapsed().as_secs_f64();
    let first = first.map_or(0.0, |d| d.as_secs_f64());
    let later = (total - first) / (written.max(2) - 1) as f64;
    eprintln!(
        "deepdream: wrote {} frames of {}×{} to {} ({}) in {total:.1} s on {}: {first:.1} s for the first, {later:.2} s a frame after it",
        written,
        size.0,
        size.1,
        args.output.display(),
        params.to_query(),
        loaded.backend
    );
    Ok(())
}
