//! `deepdream`: the command-line face of the engine. This file parses the arguments (the
//! recipe's options come from the engine's table) and hands each subcommand to its module,
//! which calls the library and prints; nothing here dreams or writes files itself.

mod dream;
mod gallery;
mod zoom;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Args, FromArgMatches, Parser, Subcommand};
use deepdream::bench;
use deepdream::dream::DreamParams;
use deepdream::dream::recipe::{Applies, Kind, OPTIONS, RecipeOption};
use deepdream::local::{self, Choice, Loaded};
use deepdream::model::Blob;

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

fn classify_file(input: &std::path::Path, top: usize, engine: &Engine) -> Result<(), String> {
    let photo = dream::read_photo(input)?;
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
        Command::Dream(args) => dream::dream_file(
            &args.input,
            &args.output,
            args.recipe()?,
            args.guide.as_deref(),
            &args.engine,
        ),
        Command::Visualize(args) => dream::visualize(&args),
        Command::Gallery(args) => gallery::gallery(&args),
        Command::Zoom(args) => zoom::zoom(&args),
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
        Ok(()) if dream::stopped() => ExitCode::from(130),
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("deepdream: {message}");
            ExitCode::FAILURE
        }
    }
}
