//! `deepdream`: the command-line face of the engine (dream, classify, bench, layers).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use deepdream::animation::Animation;
use deepdream::device::{self, Limits};
use deepdream::dream::gallery::Gallery;
use deepdream::dream::recipe::{Applies, Kind, OPTIONS, RecipeOption};
use deepdream::dream::{self, Dream, DreamParams};
use deepdream::image_io::{self, OutputFormat};
use deepdream::model::{Blob, ConvPath, GoogLeNet, Labels};
use deepdream::session::Session;
use indicatif::{ProgressBar, ProgressStyle};

/// The photo the benchmark dreams on (CC0, from scikit-image).
const BENCH_PHOTO: &[u8] = include_bytes!("../../tests/images/coffee.png");
/// The weights' file name where `make install` puts them, and in the checkout's `weights/`.
const WEIGHTS_FILE: &str = "googlenet.safetensors";

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

/// The network on its device, and what that device allows.
struct Loaded {
    model: GoogLeNet,
    labels: Labels,
    device: Device,
    limits: Limits,
    backend: String,
}

/// Where the weights may be when neither --weights nor DEEPDREAM_WEIGHTS names them, in order:
/// the user's data directory (`make install`), an install prefix's share/ beside the binary,
/// and the checkout, so the tool works from any directory once installed.
fn weights_candidates() -> Vec<PathBuf> {
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

fn weights_path(engine: &Engine) -> Result<PathBuf, String> {
    if let Some(path) = engine
        .weights
        .clone()
        .or_else(|| std::env::var_os("DEEPDREAM_WEIGHTS").map(PathBuf::from))
    {
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

fn load(engine: &Engine) -> Result<Loaded, String> {
    let path = weights_path(engine)?;
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "cannot read the weights file {} ({e}): run `make weights` in the checkout (or `make install`), or pass --weights PATH",
            path.display()
        )
    })?;
    let cpu = || (device::cpu(), Limits::cpu(), "cpu (flex)".to_string());
    let (device, limits, backend) = if engine.cpu {
        cpu()
    } else {
        match device::gpu() {
            Ok(gpu) if gpu.software && !engine.gpu => {
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
    let loaded = load(engine)?;
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
    let loaded = load(&args.engine)?;
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
    let loaded = load(&args.engine)?;
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

/// Every thumbnail in one picture, in channel order, rows of up to 16 with a 2 px gap: a
/// gallery to share as one file.
fn sheet_image(thumbnails: &[image::RgbImage]) -> image::RgbImage {
    const GAP: u32 = 2;
    let side = thumbnails.first().map_or(1, |t| t.width());
    let columns = (thumbnails.len() as u32).clamp(1, 16);
    let rows = (thumbnails.len() as u32).div_ceil(columns).max(1);
    let cell = side + GAP;
    let mut sheet = image::RgbImage::from_pixel(
        columns * cell - GAP,
        rows * cell - GAP,
        image::Rgb([17, 17, 17]),
    );
    for (i, thumb) in thumbnails.iter().enumerate() {
        let (x, y) = ((i as u32 % columns) * cell, (i as u32 / columns) * cell);
        image::imageops::replace(&mut sheet, thumb, x as i64, y as i64);
    }
    sheet
}

/// The contact sheet: every channel's image with its number, each linking to its file.
fn contact_sheet(layer: Blob, names: &[(usize, String)], params: &DreamParams) -> String {
    let figures: String = names
        .iter()
        .map(|(channel, name)| {
            format!(
                "<figure><a href=\"{name}\"><img src=\"{name}\" alt=\"channel {channel}\" loading=\"lazy\" width=\"{s}\" height=\"{s}\"></a><figcaption>{channel}</figcaption></figure>\n",
                s = params.size
            )
        })
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{layer}: every channel</title>\n\
<style>body{{font:14px system-ui,sans-serif;margin:1rem;background:#111;color:#ddd}}\
main{{display:grid;grid-template-columns:repeat(auto-fill,minmax({s}px,1fr));gap:.5rem}}\
figure{{margin:0;text-align:center}}img{{width:100%;height:auto;image-rendering:auto}}</style></head>\n\
<body><h1>{layer}</h1><p>What each channel wants to see: grey noise dreamed towards the channel's mean before its ReLU. Recipe: <code>{recipe}</code></p>\n<main>\n{figures}</main></body></html>\n",
        s = params.size.min(160),
        recipe = params.to_query(),
    )
}

/// Where an animation's frames go: numbered PNGs in a folder (with recipe.txt), or one
/// animated GIF or PNG, written frame by frame so a long animation never waits in memory.
enum Frames {
    Folder(PathBuf),
    Gif(image::codecs::gif::GifEncoder<std::io::BufWriter<std::fs::File>>),
    Apng(png::Writer<std::io::BufWriter<std::fs::File>>, PathBuf),
}

/// Frames an animation writes unless --frames says otherwise: two seconds at 24 per second.
const ZOOM_FRAMES: &str = "48";

impl Frames {
    /// Refuses an output that is neither a folder (no extension), a .gif nor a .png.
    fn check(output: &Path) -> Result<(), String> {
        let ext = output
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            None | Some("gif" | "png" | "apng") => Ok(()),
            Some(_) => Err(format!(
                "{}: an animation is written to a folder (no extension), a .gif or a .png",
                output.display()
            )),
        }
    }

    fn create(output: &Path, params: &DreamParams, (w, h): (u32, u32)) -> Result<Self, String> {
        let name = output.to_string_lossy().to_ascii_lowercase();
        let file = || {
            std::fs::File::create(output)
                .map(std::io::BufWriter::new)
                .map_err(|e| format!("cannot write {}: {e}", output.display()))
        };
        let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", output.display());
        if name.ends_with(".gif") {
            let mut gif = image::codecs::gif::GifEncoder::new_with_speed(file()?, 10);
            gif.set_repeat(image::codecs::gif::Repeat::Infinite)
                .map_err(|e| fail(&e))?;
            Ok(Frames::Gif(gif))
        } else if name.ends_with(".png") || name.ends_with(".apng") {
            let mut encoder = png::Encoder::new(file()?, w, h);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            encoder
                .set_animated(params.frames as u32, 0)
                .and_then(|()| encoder.set_frame_delay(1, params.fps as u16))
                .map_err(|e| fail(&e))?;
            encoder
                .add_text_chunk("deepdream".into(), params.to_query())
                .map_err(|e| fail(&e))?;
            let writer = encoder.write_header().map_err(|e| fail(&e))?;
            Ok(Frames::Apng(writer, output.to_path_buf()))
        } else {
            Frames::check(output)?;
            std::fs::create_dir_all(output).map_err(|e| fail(&e))?;
            std::fs::write(output.join("recipe.txt"), params.to_query() + "\n")
                .map_err(|e| fail(&e))?;
            Ok(Frames::Folder(output.to_path_buf()))
        }
    }

    fn add(
        &mut self,
        frame: usize,
        rgb: &image::RgbImage,
        params: &DreamParams,
    ) -> Result<(), String> {
        match self {
            Frames::Folder(dir) => {
                let path = dir.join(format!("frame-{:04}.png", frame + 1));
                let png = image_io::encode_png(rgb, None, &params.to_query(), &[])
                    .map_err(|e| e.to_string())?;
                std::fs::write(&path, png)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))
            }
            Frames::Gif(gif) => {
                let rgba = image::DynamicImage::ImageRgb8(rgb.clone()).into_rgba8();
                let delay = image::Delay::from_numer_denom_ms(1000, params.fps as u32);
                gif.encode_frame(image::Frame::from_parts(rgba, 0, 0, delay))
                    .map_err(|e| e.to_string())
            }
            Frames::Apng(writer, _) => writer
                .write_image_data(rgb.as_raw())
                .map_err(|e| e.to_string()),
        }
    }

    /// Ends the file after `written` of the recipe's `frames`: an animation stopped early is
    /// written with the frames it has.
    fn finish(self, written: usize, frames: usize) -> Result<(), String> {
        match self {
            Frames::Folder(_) => Ok(()),
            Frames::Gif(gif) => {
                drop(gif);
                Ok(())
            }
            Frames::Apng(writer, _) if written == frames => {
                writer.finish().map_err(|e| e.to_string())
            }
            Frames::Apng(writer, path) => {
                // Dropping the writer ends the file; its frame count still says `frames`.
                drop(writer);
                let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
                let mut png = std::fs::read(&path).map_err(fail)?;
                image_io::set_apng_frames(&mut png, written as u32);
                std::fs::write(&path, png).map_err(fail)
            }
        }
    }
}

/// `zoom`: an infinite-zoom animation of a photo, frame by frame.
fn zoom(args: &ZoomArgs) -> Result<(), String> {
    let mut extra = vec![("frames", ZOOM_FRAMES.to_string())];
    if args.guide.is_some() {
        extra.push(("guide", "1".to_string()));
    }
    let params = args.recipe.recipe(&extra)?;
    Frames::check(&args.output)?;
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
    let loaded = load(&args.engine)?;
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
    let mut frames = Frames::create(&args.output, &params, size)?;
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
        frames.add(frame, &rgb, &params)?;
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
    frames.finish(written, params.frames)?;
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

/// What a dream used, gathered after each step for the report at the end.
#[derive(Default)]
struct Usage {
    /// The tile side the dream chose.
    tile: usize,
    /// The most the device's allocator held after a step, in bytes (0 where it does not say).
    device_peak: u64,
}

impl Usage {
    fn record(&mut self, dream: &Dream, device: &Device) {
        self.tile = dream.tile();
        if let Some(pool) = device.memory_pool_usage() {
            self.device_peak = self.device_peak.max(pool.bytes_reserved);
        }
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

/// The most memory this process has held (Linux's VmHWM), or `None` where it is not known.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn classify_file(input: &Path, top: usize, engine: &Engine) -> Result<(), String> {
    let photo = read_photo(input)?;
    let Loaded {
        model,
        labels,
        device,
        ..
    } = load(engine)?;
    let classes = pollster::block_on(deepdream::classify::classify(
        &model, &labels, &photo.rgb, top, &device,
    ))
    .map_err(|e| e.to_string())?;
    for c in classes {
        println!("{}\t{:.6}\t{}", c.index, c.probability, c.label);
    }
    Ok(())
}

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

fn bench(runs: usize, sizes: &[u32], engine: &Engine) -> Result<(), String> {
    let runs = runs.max(1);
    let Loaded {
        model,
        device,
        limits,
        backend,
        ..
    } = load(engine)?;
    let photo = image_io::decode(BENCH_PHOTO).map_err(|e| e.to_string())?;
    println!("backend\t{backend}");
    println!("convolutions\t{:?}", ConvPath::for_device(&device));
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
                &model,
                image_io::to_tensor(&rgb, &device),
                params.clone(),
                &limits,
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
            &model,
            image_io::to_tensor(&rgb, &device),
            DreamParams::default(),
            &limits,
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
            Gallery::new(&model, &device, layer, &channels, &params).map_err(|e| e.to_string())?;
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
    let mut animation = Animation::open(&model, &device, &limits, Some(&png), params, None)
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
fn bench_dream(size: &str, engine: &Engine) -> Result<(), String> {
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
    } = load(engine)?;
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
        &model,
        image_io::to_tensor(&rgb, &device),
        params,
        &limits,
        &cancel,
        |dream, p| {
            usage.record(dream, &device);
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
        } => bench_dream(&size, &engine),
        Command::Bench {
            runs,
            sizes,
            engine,
            ..
        } => bench(runs, &sizes, &engine),
        Command::Layers => {
            layers();
            Ok(())
        }
    }
}

/// Keeps freed memory in the process instead of handing it back to the system at once. A
/// gradient step on the CPU allocates and frees tens of megabytes per layer; with glibc's
/// defaults each came back as fresh pages, zeroed on first touch (a 512² step 286 against
/// 260 ms, the CPU convolution's own path; 349 against 266 ms, flex's).
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
