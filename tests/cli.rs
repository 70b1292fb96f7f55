//! The `deepdream` command as a user runs it: results on disk, and one readable line with a
//! non-zero exit for every bad input or option.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The command with `args`, the real weights, and a runtime folder.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_deepdream"));
    command
        .args(args)
        .env("DEEPDREAM_WEIGHTS", common::weights_path())
        // A desktop session has one; without it Mesa's Vulkan driver prints Wayland warnings.
        .env("XDG_RUNTIME_DIR", runtime_dir());
    command
}

fn deepdream(args: &[&str]) -> Output {
    command(args).output().expect("runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deepdream-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn runtime_dir() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("xdg");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

fn small_photo() -> PathBuf {
    let path = scratch("cat.png");
    common::crop("chelsea.png", 40, 160, 120, 160)
        .save(&path)
        .unwrap();
    path
}

/// Fails with exit code != 0 and exactly one line on stderr that contains `expected`.
fn refuses(args: &[&str], expected: &str) {
    let out = deepdream(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
}

/// Runs `args`, which must succeed; its stderr.
fn succeeds(args: &[&str]) -> String {
    let out = deepdream(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {stderr}");
    stderr
}

fn text_chunk(png: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    info.uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == "deepdream")
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

#[test]
fn dreams_a_photo_to_png_and_jpeg() {
    let input = small_photo();
    let out_png = scratch("cat-dream.png");
    let args = [
        "dream",
        input.to_str().unwrap(),
        out_png.to_str().unwrap(),
        "--octaves",
        "2",
        "--steps",
        "2",
        "--seed",
        "5",
        "--gpu", // wgpu even where it is lavapipe; the JPEG below takes the default choice
    ];
    let out = deepdream(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&out_png).unwrap();
    let result = image::load_from_memory(&bytes).unwrap().to_rgb8();
    let original = image::open(&input).unwrap().to_rgb8();
    assert_eq!(result.dimensions(), (160, 120));
    let changed = result
        .as_raw()
        .iter()
        .zip(original.as_raw())
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        changed > result.as_raw().len() / 2,
        "only {changed} values changed"
    );
    let recipe = text_chunk(&bytes);
    assert!(
        recipe.contains("layer=inception_4c/output&octaves=2&octave-scale=1.4&steps=2"),
        "{recipe}"
    );
    assert!(recipe.contains("seed=5"), "{recipe}");

    let out_jpg = scratch("cat-dream.jpg");
    let out = deepdream(&[
        "dream",
        input.to_str().unwrap(),
        out_jpg.to_str().unwrap(),
        "--octaves",
        "1",
        "--steps",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jpg = std::fs::read(&out_jpg).unwrap();
    assert_eq!(image::guess_format(&jpg).unwrap(), image::ImageFormat::Jpeg);
}

#[test]
fn classify_prints_index_probability_label() {
    let photo = common::root().join("tests/images/coffee.png");
    let out = deepdream(&["classify", photo.to_str().unwrap(), "--top", "3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert_eq!(lines[0][0], "967");
    assert_eq!(lines[0][2], "espresso");
    let p: f32 = lines[0][1].parse().unwrap();
    assert!(p > 0.5 && p <= 1.0, "{stdout}");
}

#[test]
fn bad_options_and_inputs_get_one_line_and_a_failure() {
    let input = small_photo();
    let input = input.to_str().unwrap();
    let out = scratch("never.png");
    let out = out.to_str().unwrap();
    refuses(&["dream", input, out, "--steps", "-1"], "steps = -1");
    refuses(
        &["dream", input, out, "--octave-scale", "1"],
        "octave-scale = 1 is out of range: a number above 1",
    );
    refuses(
        &["dream", input, out, "--step-size", "NaN"],
        "step-size = NaN",
    );
    refuses(
        &["dream", input, out, "--layer", "inception_9x/output"],
        "unknown layer 'inception_9x/output'",
    );
    refuses(
        &["dream", input, out, "--channel", "9999"],
        "channel = 9999",
    );
    refuses(&["dream", input, out, "--bogus"], "--bogus");
    refuses(
        &["dream", input, "result.gif"],
        "must end in .png, .jpg or .jpeg",
    );
    refuses(
        &["dream", "/nonexistent/photo.jpg", out],
        "cannot read /nonexistent/photo.jpg",
    );

    let text = scratch("notes.jpg");
    std::fs::write(&text, "just some text, renamed").unwrap();
    refuses(
        &["dream", text.to_str().unwrap(), out],
        "not a JPEG, PNG, WebP or GIF",
    );

    let tiny = scratch("tiny.png");
    image::RgbImage::new(20, 20).save(&tiny).unwrap();
    refuses(
        &["dream", tiny.to_str().unwrap(), out],
        "too small for layer inception_4c/output",
    );

    refuses(
        &["classify", input, "--weights", "/nonexistent/w.safetensors"],
        "make weights",
    );
    assert!(!Path::new(out).exists());
}

fn input(name: &str) -> String {
    common::root()
        .join("tests/inputs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Mean absolute difference per value between two same-sized images.
fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - *y as f64).abs())
        .sum::<f64>()
        / a.len() as f64
}

/// Every kind of file users drop (tests/inputs, made by make.py): the good ones dream upright at
/// full size with their colours and alpha; the rest get one sentence and a non-zero exit.
#[test]
fn every_kind_of_input_dreams_or_gets_one_sentence() {
    let cat = image::open(common::root().join("tests/web/cat-96x72.png")).unwrap();
    let cat_rgb = cat.to_rgb8();
    let cat_luma = cat.to_luma8();
    let ramp = image::open(input("alpha.png")).unwrap().to_rgba8();
    let ramp: Vec<u8> = ramp.pixels().map(|p| p[3]).collect();
    // (file, grey, has alpha)
    let good = [
        ("alpha.png", false, true),
        ("rgba16.png", false, true),
        ("gray.png", true, false),
        ("gray16.png", true, false),
        ("palette.png", false, false),
        ("cmyk.jpg", false, false),
        ("rotated.jpg", false, false),
        ("animated.gif", false, false),
        ("photo.webp", false, false),
    ];
    for (name, grey, has_alpha) in good {
        let out = scratch(&format!("{name}.png"));
        let run = deepdream(&[
            "dream",
            &input(name),
            out.to_str().unwrap(),
            "--octaves",
            "1",
            "--steps",
            "1",
            "--cpu",
        ]);
        assert!(
            run.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let result = image::open(&out).unwrap();
        assert_eq!((result.width(), result.height()), (96, 72), "{name}");
        // One step moves pixels by ~1.5 levels; a wrong orientation, colour conversion or frame
        // would be tens of levels off.
        let diff = if grey {
            mean_abs_diff(result.to_luma8().as_raw(), cat_luma.as_raw())
        } else {
            mean_abs_diff(result.to_rgb8().as_raw(), cat_rgb.as_raw())
        };
        assert!(diff < 6.0, "{name}: {diff:.1} levels from the cat");
        assert_eq!(result.color().has_alpha(), has_alpha, "{name}");
        if has_alpha {
            let alpha: Vec<u8> = result.to_rgba8().pixels().map(|p| p[3]).collect();
            assert_eq!(alpha, ramp, "{name}: alpha changed");
        }
    }

    let out = scratch("never.png");
    let out = out.to_str().unwrap();
    let bad = [
        ("empty.jpg", "the file is empty"),
        ("text.jpg", "not a JPEG, PNG, WebP or GIF image"),
        ("truncated.jpg", "the JPEG image is damaged or incomplete"),
        ("corrupt.png", "the PNG image is damaged or incomplete"),
        ("drawing.svg", "SVG drawings are not supported"),
        (
            "one-pixel.png",
            "1×1 px, too small for layer inception_4c/output",
        ),
    ];
    for (name, expected) in bad {
        refuses(&["dream", &input(name), out], expected);
    }
    assert!(!Path::new(out).exists());
}

/// A 50000×50000 PNG of 300 KB is refused from its header: under a 512 MiB address-space limit,
/// fast, with one sentence.
#[test]
fn a_decompression_bomb_is_refused_before_decoding() {
    let started = std::time::Instant::now();
    let out = Command::new("sh")
        .args(["-c", "ulimit -v 524288 && exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_deepdream"))
        .args([
            "dream",
            &input("bomb.png"),
            scratch("never.png").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("too large to open"), "{stderr}");
    assert!(started.elapsed().as_secs() < 10);
}

/// A 12-megapixel photo (4000×3000, made from the cat) dreams at full size in tiles, with the
/// process's peak memory far below what one whole-image pass would take (~17 GB at this layer).
#[test]
fn a_12_megapixel_photo_dreams_at_full_size_in_bounded_memory() {
    let big = scratch("big.jpg");
    let cat = image::open(common::root().join("tests/images/chelsea.png")).unwrap();
    cat.resize_exact(4000, 3000, image::imageops::FilterType::Triangle)
        .to_rgb8()
        .save(&big)
        .unwrap();
    let out = scratch("big-dream.jpg");
    let run = deepdream(&[
        "dream",
        big.to_str().unwrap(),
        out.to_str().unwrap(),
        "--octaves",
        "2",
        "--steps",
        "1",
        "--cpu",
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(!stderr.contains("dreaming at"), "scaled down: {stderr}");
    assert_eq!(image::image_dimensions(&out).unwrap(), (4000, 3000));
    let stats = stderr.lines().last().unwrap();
    eprintln!("{stats}");
    assert!(stats.contains("tiles of up to 512 px"), "{stats}");
    let peak_mb: f64 = stats
        .split("peak process memory ")
        .nth(1)
        .and_then(|s| s.trim_end_matches(" MB").parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in {stats}"));
    assert!(peak_mb < 3000.0, "{stats}");
}

#[test]
fn the_installed_tool_finds_its_weights_from_any_directory() {
    // As `make install` leaves it: the weights in the user's data directory, the tool run from
    // a directory that is not the checkout, with no --weights and no DEEPDREAM_WEIGHTS.
    let home = scratch("home");
    let data = home.join(".local/share/deepdream");
    std::fs::create_dir_all(&data).unwrap();
    let installed = data.join("googlenet.safetensors");
    if !installed.exists() {
        let weights = common::weights_path().canonicalize().unwrap();
        std::os::unix::fs::symlink(weights, &installed).unwrap();
    }
    let elsewhere = scratch("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let photo = common::root().join("tests/images/coffee.png");
    let run = |home: &Path| {
        Command::new(env!("CARGO_BIN_EXE_deepdream"))
            .args(["classify", photo.to_str().unwrap(), "--top", "1", "--cpu"])
            .current_dir(&elsewhere)
            .env_remove("DEEPDREAM_WEIGHTS")
            .env_remove("XDG_DATA_HOME")
            .env("HOME", home)
            .output()
            .expect("runs")
    };
    let out = run(&home);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("967\t"));

    // Nowhere to be found: one line that says where it looked and what makes them.
    let empty = scratch("empty-home");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(&empty);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("make install"), "{stderr}");
    assert!(
        stderr.contains(&*empty.join(".local/share/deepdream").to_string_lossy()),
        "{stderr}"
    );
}

#[test]
fn every_recipe_option_is_an_argument_with_its_default_and_range() {
    use deepdream::dream::recipe::{Applies, OPTIONS};
    let help = |command: &str| {
        String::from_utf8(deepdream(&[command, "--help"]).stdout).expect("utf-8 help")
    };
    let (dream, visualize, zoom) = (help("dream"), help("visualize"), help("zoom"));
    for row in OPTIONS.iter().filter(|o| o.listed) {
        let flag = format!("--{} ", row.key);
        let (always, kind) = (row.applies == Applies::Always, row.applies);
        let wanted = [
            (&dream, "dream", always || kind == Applies::Photo),
            (&visualize, "visualize", always || kind == Applies::Noise),
            (
                &zoom,
                "zoom",
                always || kind == Applies::Photo || kind == Applies::Motion,
            ),
        ];
        for (text, command, offered) in wanted {
            assert_eq!(text.contains(&flag), offered, "{flag} in {command} --help");
            if offered {
                assert!(text.contains(row.help), "{flag}'s help in {command} --help");
            }
        }
    }
    assert!(
        dream.contains("[default: 0 for a photo, 4 from noise]"),
        "{dream}"
    );
    let photo = small_photo();
    let (input, out) = (photo.to_str().unwrap(), "/nonexistent/out.png");
    refuses(
        &["dream", input, out, "--lapnorm", "9"],
        "lapnorm = 9 is out of range: a whole number from 0 to 8",
    );
    refuses(&["visualize", out, "--keep-colors"], "--keep-colors");
}

#[test]
fn visualize_gallery_and_guide_write_what_they_say() {
    let png = |path: &Path| std::fs::read(path).unwrap();
    let size = |bytes: &[u8]| {
        image::load_from_memory(bytes)
            .map(|i| (i.width(), i.height()))
            .unwrap()
    };
    let vis = scratch("visualized.png");
    succeeds(&[
        "visualize",
        vis.to_str().unwrap(),
        "--layer",
        "inception_4c/output",
        "--channel",
        "10",
        "--size",
        "96",
        "--octaves",
        "1",
        "--steps",
        "3",
        "--cpu",
    ]);
    assert_eq!(size(&png(&vis)), (96, 96));
    let recipe = text_chunk(&png(&vis));
    assert!(
        recipe.starts_with("start=noise&layer=inception_4c/output&channel=10&octaves=1&"),
        "{recipe}"
    );

    let dir = scratch("gallery");
    let stderr = succeeds(&[
        "gallery",
        dir.to_str().unwrap(),
        "--layer",
        "inception_3a/5x5_reduce",
        "--size",
        "32",
        "--octaves",
        "1",
        "--steps",
        "2",
        "--batch",
        "5",
        "--cpu",
    ]);
    assert!(stderr.contains("wrote 16 channels"), "{stderr}");
    let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let mut pictures = Vec::new();
    for channel in 0..16 {
        let name = format!("channel-{channel:04}.png");
        assert!(
            index.contains(&format!("src=\"{name}\"")),
            "{name} in index.html"
        );
        let bytes = png(&dir.join(&name));
        assert_eq!(size(&bytes), (32, 32));
        assert!(text_chunk(&bytes).contains(&format!("&channel={channel}&")));
        pictures.push(bytes);
    }
    pictures.sort();
    pictures.dedup();
    assert_eq!(pictures.len(), 16, "every channel's picture is its own");
    refuses(
        &[
            "gallery",
            dir.to_str().unwrap(),
            "--layer",
            "inception_3a/5x5_reduce",
            "--channels",
            "3-16",
        ],
        "--channels 3-16: give channels from 0 to 15",
    );

    let photo = small_photo();
    let guided = scratch("guided.png");
    succeeds(&[
        "dream",
        photo.to_str().unwrap(),
        guided.to_str().unwrap(),
        "--guide",
        photo.to_str().unwrap(),
        "--layer",
        "inception_3b/output",
        "--octaves",
        "1",
        "--steps",
        "1",
        "--cpu",
    ]);
    assert!(text_chunk(&png(&guided)).ends_with("&guide=1"));
    refuses(
        &[
            "dream",
            photo.to_str().unwrap(),
            "/tmp/x.png",
            "--guide",
            "/nonexistent/guide.jpg",
        ],
        "cannot read /nonexistent/guide.jpg",
    );
}

/// The frames of an animation folder, decoded, in order.
fn frames_in(dir: &Path, count: usize) -> Vec<image::RgbImage> {
    (1..=count)
        .map(|k| {
            let path = dir.join(format!("frame-{k:04}.png"));
            image::open(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .to_rgb8()
        })
        .collect()
}

fn mean_abs(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    mean_abs_diff(a.as_raw(), b.as_raw())
}

#[test]
fn a_zoom_writes_frames_that_grow_out_of_each_other() {
    use deepdream::dream::motion::zoom_rotate;
    let cat = scratch("cat-128x96.png");
    resized(common::crop("chelsea.png", 20, 80, 240, 320), 128, 96)
        .save(&cat)
        .unwrap();
    let coffee = scratch("coffee-128x96.png");
    resized(common::crop("coffee.png", 0, 0, 300, 400), 128, 96)
        .save(&coffee)
        .unwrap();
    let zoom = |input: &Path, out: &Path, seed: &str| {
        let stderr = succeeds(&[
            "zoom",
            input.to_str().unwrap(),
            out.to_str().unwrap(),
            "--frames",
            "12",
            "--zoom",
            "1.05",
            "--rotate",
            "1",
            "--octaves",
            "2",
            "--steps",
            "3",
            "--steps-per-frame",
            "2",
            "--seed",
            seed,
            "--cpu",
        ]);
        assert!(stderr.contains("wrote 12 frames of 128×96"), "{stderr}");
    };
    let (a, b, other) = (scratch("zoom-a"), scratch("zoom-b"), scratch("zoom-coffee"));
    zoom(&cat, &a, "5");
    zoom(&cat, &b, "5");
    zoom(&coffee, &other, "5");
    let frames = frames_in(&a, 12);
    assert_eq!(frames, frames_in(&b, 12), "one seed, one animation");
    let recipe = std::fs::read_to_string(a.join("recipe.txt")).unwrap();
    assert!(
        recipe.contains("frames=12&zoom=1.05&rotate=1&steps-per-frame=2&fps=24"),
        "{recipe}"
    );
    // Each frame is the last one zoomed and turned, dreamed a little: far closer to that than
    // to an unrelated dream of the same size.
    let unrelated = frames_in(&other, 12);
    let mut worst: f64 = 0.0;
    let mut apart = f64::MAX;
    for k in 1..12 {
        let moved = zoom_rotate(&frames[k - 1], 1.05, 1.0);
        worst = worst.max(mean_abs(&frames[k], &moved));
        apart = apart.min(mean_abs(&frames[k], &unrelated[k]));
        assert_ne!(frames[k], frames[k - 1], "frame {k} moved");
    }
    eprintln!(
        "frame to the last one zoomed: at most {worst:.2} grey levels; to an unrelated dream: at least {apart:.2}"
    );
    assert!(worst < apart / 3.0, "{worst} vs {apart}");

    // One file: an animated GIF and an APNG of the same frames.
    for name in ["zoom.gif", "zoom.png"] {
        let out = scratch(name);
        succeeds(&[
            "zoom",
            cat.to_str().unwrap(),
            out.to_str().unwrap(),
            "--frames",
            "3",
            "--octaves",
            "1",
            "--steps",
            "1",
            "--steps-per-frame",
            "1",
            "--cpu",
        ]);
        let bytes = std::fs::read(&out).unwrap();
        let count = if name.ends_with(".gif") {
            use image::AnimationDecoder;
            image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&bytes))
                .unwrap()
                .into_frames()
                .count()
        } else {
            let reader = png::Decoder::new(std::io::Cursor::new(&bytes))
                .read_info()
                .unwrap();
            reader
                .info()
                .animation_control()
                .map_or(0, |a| a.num_frames as usize)
        };
        assert_eq!(count, 3, "{name}");
    }
    refuses(
        &[
            "zoom",
            cat.to_str().unwrap(),
            "/tmp/zoom.mp4",
            "--frames",
            "2",
        ],
        "an animation is written to a folder (no extension), a .gif or a .png",
    );
}

fn resized(image: image::RgbImage, w: u32, h: u32) -> image::RgbImage {
    image::imageops::resize(&image, w, h, image::imageops::FilterType::Triangle)
}

#[test]
fn an_output_that_cannot_be_written_is_refused_before_the_dream() {
    let photo = small_photo();
    let missing = scratch("no-such-folder").join("deeper");
    // A dream that would take minutes: the refusal must come before it, not after.
    for (command, out) in [("dream", "dream.png"), ("zoom", "zoom.gif")] {
        let out = missing.join(out);
        let started = std::time::Instant::now();
        refuses(
            &[
                command,
                photo.to_str().unwrap(),
                out.to_str().unwrap(),
                "--steps",
                "1000",
                "--cpu",
            ],
            "there is no folder",
        );
        assert!(
            started.elapsed().as_secs() < 60,
            "{command} dreamed before refusing"
        );
    }
}

/// Runs `args` and sends it Ctrl-C (SIGINT) after `after`: its exit code and stderr.
fn interrupted(args: &[&str], after: std::time::Duration) -> (Option<i32>, String) {
    let child = command(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    std::thread::sleep(after);
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ctrl_c_writes_what_is_done() {
    let photo = small_photo();
    let wait = std::time::Duration::from_secs(8);
    // A still: the result so far, dreamed, with its recipe.
    let out = scratch("stopped.png");
    let (code, stderr) = interrupted(
        &[
            "dream",
            photo.to_str().unwrap(),
            out.to_str().unwrap(),
            "--steps",
            "1000",
            "--cpu",
        ],
        wait,
    );
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("stopped (Ctrl-C)"), "{stderr}");
    let written = std::fs::read(&out).expect("the result so far is written");
    assert!(text_chunk(&written).contains("steps=1000"));
    let dreamed = image::load_from_memory(&written).unwrap().to_rgb8();
    let original = image::open(&photo).unwrap().to_rgb8();
    assert_eq!(dreamed.dimensions(), original.dimensions());
    assert!(mean_abs_diff(dreamed.as_raw(), original.as_raw()) > 1.0);
    // An animated PNG: the frames finished, in a file that says how many it has.
    let out = scratch("stopped-zoom.png");
    let (code, stderr) = interrupted(
        &[
            "zoom",
            photo.to_str().unwrap(),
            out.to_str().unwrap(),
            "--frames",
            "1000",
            "--octaves",
            "1",
            "--steps",
            "1",
            "--steps-per-frame",
            "1",
            "--cpu",
        ],
        wait,
    );
    assert_eq!(code, Some(130), "{stderr}");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&out).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let said = reader
        .info()
        .animation_control
        .expect("an animated PNG")
        .num_frames;
    assert!((1..1000).contains(&said), "{said} frames");
    assert!(
        stderr.contains(&format!("after {said} of 1000 frames")),
        "{stderr}"
    );
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    for _ in 0..said {
        reader
            .next_frame(&mut buffer)
            .expect("every frame it says it has");
    }
}
