//! `dream` and `visualize`: one picture, from a photo or from noise, with a progress bar; and
//! what every command that writes shares: the output checked before the dream, and Ctrl-C.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use deepdream::dream::DreamParams;
use deepdream::image_io::{self, OutputFormat};
use deepdream::local::{Loaded, Usage, megabytes, peak_rss};
use deepdream::session::Session;
use indicatif::{ProgressBar, ProgressStyle};

use super::{Engine, VisualizeArgs};

pub(super) fn read_photo(path: &Path) -> Result<image_io::Photo, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    image_io::decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Set by Ctrl-C: the dream stops and writes what it has done.
static STOP: AtomicBool = AtomicBool::new(false);

/// From here on Ctrl-C stops the dream (its loop reads [`stopped`]); a second one ends the
/// process at once. Only commands that write what they have done take it.
pub(super) fn stop_on_ctrl_c() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    });
}

pub(super) fn stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Refuses an output that cannot be written (a missing or read-only folder) before the dream,
/// not after it; a folder output is made here.
pub(super) fn writable(output: &Path, folder: bool) -> Result<(), String> {
    let dir = if folder {
        std::fs::create_dir_all(output)
            .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
        output
    } else {
        match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    };
    if !dir.is_dir() {
        return Err(format!(
            "cannot write {}: there is no folder {}",
            output.display(),
            dir.display()
        ));
    }
    let probe = dir.join(format!(".deepdream-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("cannot write {}: {e}", output.display()))
}

/// The output format for `output`'s extension, or a refusal naming the ones written.
pub(super) fn output_format(output: &Path) -> Result<OutputFormat, String> {
    let name = output.to_string_lossy();
    OutputFormat::for_path(&name)
        .ok_or_else(|| format!("{name}: the output must end in .png, .jpg or .jpeg"))
}

pub(super) fn read_guide(path: Option<&Path>) -> Result<Option<image_io::Photo>, String> {
    path.map(|path| {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        deepdream::session::read_guide(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    })
    .transpose()
}

/// `dream`: the engine's one pipeline (`Session`) between two files, with a progress bar.
pub(super) fn dream_file(
    input: &Path,
    output: &Path,
    params: DreamParams,
    guide: Option<&Path>,
    engine: &Engine,
) -> Result<(), String> {
    let format = output_format(output)?;
    writable(output, false)?;
    stop_on_ctrl_c();
    let started = Instant::now();
    // A bad or too-small photo or guide is refused before the network loads.
    let photo = std::fs::read(input)
        .map_err(|e| format!("cannot read {}: {e}", input.display()))
        .and_then(|bytes| {
            Session::read(&bytes, &params).map_err(|e| format!("{}: {e}", input.display()))
        })?;
    let guide = read_guide(guide)?;
    let loaded = engine.load()?;
    let session = Session::begin(
        &loaded.model,
        &loaded.device,
        &loaded.limits,
        photo,
        params,
        guide,
    )
    .map_err(|e| format!("{}: {e}", input.display()))?;
    finish(session, output, format, &loaded, started)
}

/// `visualize`: a dream from noise, written like a photo's.
pub(super) fn visualize(args: &VisualizeArgs) -> Result<(), String> {
    let format = output_format(&args.output)?;
    writable(&args.output, false)?;
    stop_on_ctrl_c();
    let params = args.recipe.recipe(&[("start", "noise".into())])?;
    let started = Instant::now();
    let loaded = args.engine.load()?;
    let session = Session::noise(&loaded.model, &loaded.device, &loaded.limits, params, None)
        .map_err(|e| e.to_string())?;
    finish(session, &args.output, format, &loaded, started)
}

/// Runs a session to its end with a progress bar, writes the result and reports what it took.
pub(super) fn finish(
    mut session: Session,
    output: &Path,
    format: OutputFormat,
    loaded: &Loaded,
    started: Instant,
) -> Result<(), String> {
    let out_name = output.to_string_lossy();
    let Loaded {
        device, backend, ..
    } = loaded;
    if let Some(note) = session.note() {
        eprintln!("deepdream: {note}");
    }
    let (w, h) = session.size();
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} steps, {elapsed} elapsed, ~{eta} left",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(format!("dreaming {w}×{h} on {backend}"));
    let mut usage = Usage::default();
    while !stopped() {
        let Some(p) = session.step().map_err(|e| e.to_string())? else {
            break;
        };
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        usage.record(session.dream(), device);
    }
    bar.finish_and_clear();
    if stopped() {
        eprintln!("deepdream: stopped (Ctrl-C): writing the result so far");
    }
    let bytes = match format {
        OutputFormat::Png => pollster::block_on(session.png()),
        OutputFormat::Jpeg => pollster::block_on(session.jpeg()),
    }
    .map_err(|e| e.to_string())?;
    std::fs::write(output, bytes).map_err(|e| format!("cannot write {out_name}: {e}"))?;
    eprintln!(
        "deepdream: wrote {out_name} ({w}×{h}, {})",
        session.recipe()
    );
    let mut stats = format!(
        "deepdream: {:.1} s on {backend}, tiles of up to {} px",
        started.elapsed().as_secs_f64(),
        usage.tile
    );
    if usage.device_peak > 0 {
        stats += &format!(", device memory {}", megabytes(usage.device_peak));
    }
    if let Some(peak) = peak_rss() {
        stats += &format!(", peak process memory {}", megabytes(peak));
    }
    eprintln!("{stats}");
    Ok(())
}
