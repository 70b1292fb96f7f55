//! `deepdream`: the command-line face of the engine (dream, classify, bench, layers).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use deepdream::animation::Animation;
use deepdream::bench;
use deepdream::dream::gallery::Gallery;
use deepdream::dream::recipe::{Applies, Kind, OPTIONS, RecipeOption};
use deepdream::dream::{self, DreamParams};
use deepdream::image_io::{self, OutputFormat};
use deepdream::local::{self, Choice, Loaded, Usage, megabytes, peak_rss};
use deepdream::model::Blob;
use deepdream::session::Session;
use deepdream::writers::{Frames, contact_sheet, sheet_image};
use indicatif::{ProgressBar, ProgressStyle};

/// Frames an animation writes unless --frames says otherwise: two seconds at 24 per second.
const ZOOM_FRAMES: &str = "48";

#[derive(Parser)]
#[command(
    name = "deepdream",
    version,
    about = "DeepDream on GoogLeNet, on the GPU (wgpu) or the CPU"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Engine {
    /// Weights file written by `make weights` [env: DEEPDREAM_WEIGHTS; default: the first of
    /// $XDG_DATA_HOME/deepdream/, ~/.local/share/deepdream/ (where `make install` puts them),
    /// ../share/deepdream/ beside the binary, and ./weights/ that holds googlenet.safetensors]
    #[arg(long, global = true)]
    weights: Option<PathBuf>,
    /// Run on the CPU (Burn's flex backend) instead of the GPU
    #[arg(long, global = true, conflicts_with = "gpu")]
    cpu: bool,
    /// Run on wgpu even when its only adapter is a software rasterizer such as lavapipe
    #[arg(long, global = true)]
    gpu: bool,
}

impl Engine {
    /// The network on the device these options ask for.
    fn load(&self) -> Result<Loaded, String> {
        let choice = match (self.cpu, self.gpu) {
            (true, _) => Choice::Cpu,
            (_, true) => Choice::Gpu,
            _ => Choice::Auto,
        };
        local::load(self.weights.clone(), choice)
    }
}

/// The recipe's options as `--key VALUE` arguments, one per row of the engine's table
/// (`deepdream::dream::recipe::OPTIONS`): the help, defaults and ranges are the table's, and the
/// values go to the engine as text, checked there like a URL's. `MODE` picks the rows: a
/// photo's ([`PHOTO`]), a dream from noise's ([`NOISE`]) or an animation's ([`MOTION`]).
#[derive(Clone, Default)]
struct RecipeArgs<const MODE: u8> {
    pairs: Vec<(&'static str, String)>,
}

const PHOTO: u8 = 0;
const NOISE: u8 = 1;
const MOTION: u8 = 2;

impl<const MODE: u8> RecipeArgs<MODE> {
    fn rows() -> impl Iterator<Item = &'static RecipeOption> {
        let wanted: &[Applies] = match MODE {
            NOISE => &[Applies::Noise],
            MOTION => &[Applies::Photo, Applies::Motion],
            _ => &[Applies::Photo],
        };
        OPTIONS.iter().filter(move |o| {
            o.listed && (o.applies == Applies::Always || wanted.contains(&o.applies))
        })
    }

    /// The recipe, with `extra` pairs first (a subcommand's own defaults, which the user's
    /// values then override).
    fn recipe(&self, extra: &[(&'static str, String)]) -> Result<DreamParams, String> {
        DreamParams::from_pairs(
            extra
                .iter()
                .chain(&self.pairs)
                .map(|(k, v)| (*k, v.as_str())),
        )
        .map_err(|e| e.to_string())
    }
}

impl<const MODE: u8> FromArgMatches for RecipeArgs<MODE> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = Self::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for row in Self::rows() {
            let value = match row.kind {
                Kind::Switch => matches.get_flag(row.key).then(|| "1".to_string()),
                _ => matches.get_one::<String>(row.key).cloned(),
            };
            if let Some(value) = value {
                self.pairs.retain(|(k, _)| *k != row.key);
                self.pairs.push((row.key, value));
            }
        }
        Ok(())
    }
}

impl<const MODE: u8> Args for RecipeArgs<MODE> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        Self::rows().fold(cmd, |cmd, row| {
            let arg = Arg::new(row.key).long(row.key);
            let arg = match row.kind {
                Kind::Switch => arg.action(ArgAction::SetTrue).help(row.help),
                _ => arg
                    .value_name(match row.kind {
                        Kind::Whole { .. } | Kind::Channel => "N",
                        Kind::Real { .. } | Kind::Number { .. } => "X",
                        Kind::Layers => "LAYER",
                        Kind::Choice(_) | Kind::Switch => "WORD",
                    })
                    .allow_hyphen_values(true)
                    .help(format!("{} [default: {}]", row.help, row.default)),
            };
            cmd.arg(arg)
        })
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[derive(Args)]
struct DreamArgs {
    /// The photo to dream
    input: PathBuf,
    /// Where to write the result (.png or .jpg)
    output: PathBuf,
    /// No random shift (same as --jitter 0)
    #[arg(long, conflicts_with = "jitter")]
    no_jitter: bool,
    /// Steer the dream towards this image's features (its best match at each position of
    /// the layer)
    #[arg(long, value_name = "IMAGE")]
    guide: Option<PathBuf>,
    #[command(flatten)]
    recipe: RecipeArgs<PHOTO>,
    #[command(flatten)]
    engine: Engine,
}

impl DreamArgs {
    /// The options as recipe pairs, parsed and checked by the engine like a URL's.
    fn recipe(&self) -> Result<DreamParams, String> {
        let mut extra = Vec::new();
        if self.no_jitter {
            extra.push(("jitter", "0".to_string()));
        }
        if self.guide.is_some() {
            extra.push(("guide", "1".to_string()));
        }
        self.recipe.recipe(&extra)
    }
}

#[derive(Args)]
struct ZoomArgs {
    /// The photo to start from
    input: PathBuf,
    /// A folder for frame-NNNN.png and recipe.txt, or an animated .gif or .png (APNG)
    output: PathBuf,
    /// Steer every frame towards this image's features
    #[arg(long, value_name = "IMAGE")]
    guide: Option<PathBuf>,
    #[command(flatten)]
    recipe: RecipeArgs<MOTION>,
    #[command(flatten)]
    engine: Engine,
}

#[derive(Args)]
struct VisualizeArgs {
    /// Where to write the image (.png or .jpg)
    output: PathBuf,
    #[command(flatten)]
    recipe: RecipeArgs<NOISE>,
    #[command(flatten)]
    engine: Engine,
}

#[derive(Args)]
struct GalleryArgs {
    /// The folder to write channel-NNNN.png, index.html and sheet.png (all in one picture)
    /// into (made if missing)
    out_dir: PathBuf,
    /// Only these channels, e.g. 0-63 or 5,9,12 [default: all of the layer's]
    #[arg(long, value_name = "LIST")]
    channels: Option<String>,
    /// Channels rendered together in one pass
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    batch: u16,
    #[command(flatten)]
    recipe: RecipeArgs<NOISE>,
    #[command(flatten)]
    engine: Engine,
}

#[derive(Subcommand)]
enum Command {
    /// Dream a photo: reads JPEG, PNG, WebP or GIF; writes PNG or JPEG by OUT's extension
    Dream(Box<DreamArgs>),
    /// Dream from grey noise: what a layer or one channel wants to see (feature visualisation)
    Visualize(Box<VisualizeArgs>),
    /// Every channel of a layer, visualised from noise, as PNGs and an index.html contact sheet
    Gallery(Box<GalleryArgs>),
    /// An infinite zoom: each frame is the last one zoomed, turned and dreamed again (48 frames
    /// unless --frames says otherwise)
    Zoom(Box<ZoomArgs>),
    /// Print the most likely ImageNet classes of a photo: INDEX<TAB>PROBABILITY<TAB>LABEL
    Classify {
        /// The photo
        input: PathBuf,
        /// How many classes to print
        #[arg(long, default_value_t = 5)]
        top: usize,
        #[command(flatten)]
        engine: Engine,
    },
    /// Median time of one gradient step at each size (224, 512 and 1024 px unless told), of the canonical preset at 512 px, of a gallery batch and of a zoom frame
    Bench {
        /// Timed repetitions per size (after one warm-up)
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Square sizes to time one gradient step at, in pixels
        #[arg(long, value_delimiter = ',', default_value = "224,512,1024",
              value_parser = clap::value_parser!(u32).range(64..=4096))]
        sizes: Vec<u32>,
        /// Instead, time one canonical dream of a photo this big (e.g. 4000x3000) and report
        /// its peak memory
        #[arg(long, value_name = "WxH")]
        dream: Option<String>,
        #[command(flatten)]
        engine: Engine,
    },
    /// List every layer (Caffe blob) with its channels and the smallest input that reaches it
    Layers,
}

fn read_photo(path: &Path) -> Result<image_io::Photo, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    image_io::decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Set by Ctrl-C: the dream stops and writes what it has done.
static STOP: AtomicBool = AtomicBool::new(false);

/// From here on Ctrl-C stops the dream (its loop reads [`stopped`]); a second one ends the
/// process at once. Only commands that write what they have done take it.
fn stop_on_ctrl_c() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
    });
}

fn stopped() -> bool {
    STOP.load(Ordering::Relaxed)
}

/// Refuses an output that cannot be written (a missing or read-only folder) before the dream,
/// not after it; a folder output is made here.
fn writable(output: &Path, folder: bool) -> Result<(), String> {
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
fn output_format(output: &Path) -> Result<OutputFormat, String> {
    let name = output.to_string_lossy();
    OutputFormat::for_path(&name)
        .ok_or_else(|| format!("{name}: the output must end in .png, .jpg or .jpeg"))
}

fn read_guide(path: Option<&Path>) -> Result<Option<image_io::Photo>, String> {
    path.map(|path| {
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        deepdream::session::read_guide(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    })
    .transpose()
}

/// `dream`: the engine's one pipeline (`Session`) between two files, with a progress bar.
fn dream_file(
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
fn visualize(args: &VisualizeArgs) -> Result<(), String> {
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
fn gallery(args: &GalleryArgs) -> Result<(), String> {
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

/// `zoom`: an infinite-zoom animation of a photo, frame by frame.
fn zoom(args: &ZoomArgs) -> Result<(), String> {
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

/// Runs a session to its end with a progress bar, writes the result and reports what it took.
fn finish(
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

fn classify_file(input: &Path, top: usize, engine: &Engine) -> Result<(), String> {
    let photo = read_photo(input)?;
    let Loaded {
        model,
        labels,
        device,
        ..
    } = engine.load()?;
    let classes = pollster::block_on(deepdream::classify::classify(
        &model, &labels, &photo.rgb, top, &device,
    ))
    .map_err(|e| e.to_string())?;
    for c in classes {
        println!("{}\t{:.6}\t{}", c.index, c.probability, c.label);
    }
    Ok(())
}

/// Prints every layer; stops quietly when the reader goes away (`deepdream layers | head`).
fn layers() {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "layer\tchannels\tmin_input_px").and_then(|()| {
        Blob::all()
            .into_iter()
            .try_for_each(|blob| writeln!(out, "{blob}\t{}\t{}", blob.channels(), blob.min_input()))
    });
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Dream(args) => dream_file(
            &args.input,
            &args.output,
            args.recipe()?,
            args.guide.as_deref(),
            &args.engine,
        ),
        Command::Visualize(args) => visualize(&args),
        Command::Gallery(args) => gallery(&args),
        Command::Zoom(args) => zoom(&args),
        Command::Classify { input, top, engine } => classify_file(&input, top, &engine),
        Command::Bench {
            dream: Some(size),
            engine,
            ..
        } => bench::dream(&size, &engine.load()?),
        Command::Bench {
            runs,
            sizes,
            engine,
            ..
        } => bench::steps(runs, &sizes, &engine.load()?),
        Command::Layers => {
            layers();
            Ok(())
        }
    }
}

/// Keeps freed memory in the process instead of handing it back to the system at once. A
/// gradient step on the CPU allocates and frees tens of megabytes per layer; with glibc's
/// defaults each came back as fresh pages, zeroed on first touch, which measured slower
/// (docs/performance.md, "Behind the code").
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any thread starts.
    unsafe {
        // Blocks up to 32 MiB (glibc's largest threshold) from the heap, not their own mapping,
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        // the heap's free top kept rather than trimmed, and grown 256 MiB at a time.
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line: clap's first line, without its own prefix and usage block.
            let text = e.to_string();
            let line = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("deepdream: {}", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        // Ctrl-C's code, though what was done is written.
        Ok(()) if stopped() => ExitCode::from(130),
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("deepdream: {message}");
            ExitCode::FAILURE
        }
    }
}
