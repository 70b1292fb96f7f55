//! The wasm-bindgen face: what the page's Web Worker calls. It owns no DeepDream logic; it moves
//! bytes and recipes between JavaScript and the engine.

use burn::tensor::Device;
use js_sys::{Object, Promise, Reflect, Uint8Array};
use sha2::{Digest, Sha256};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::ImageData;

use crate::Error;
use crate::animation::Animation;
use crate::device::{self, Limits};
use crate::dream::gallery::{self, Gallery};
use crate::dream::recipe::{Applies, Kind, OPTIONS};
use crate::dream::{DreamParams, Progress};
use crate::model::{Blob, ConvPath, GoogLeNet};
use crate::session::Session;

impl From<Error> for JsValue {
    fn from(e: Error) -> Self {
        // The worker and the page act on `kind` and `fatal` (a new engine), never on the text.
        let error = js_sys::Error::new(&e.to_string());
        error.set_name("DeepDreamError");
        let _ = Reflect::set(&error, &"kind".into(), &e.kind().into());
        let _ = Reflect::set(&error, &"fatal".into(), &e.is_fatal().into());
        error.into()
    }
}

/// Where the panic hook leaves its sentence for the worker (a global of the worker's scope).
const PANIC_GLOBAL: &str = "deepdreamPanic";

/// Panics (a GPU that refused an allocation, a bug) kill the instance; the page restarts it.
/// The hook logs the panic and leaves a sentence for the user in a global the worker reads.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let report = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("unknown failure");
        let sentence = match Error::from_device(report) {
            Error::Device(report) => format!("the engine failed unexpectedly ({report})"),
            error => error.to_string(),
        };
        let _ = Reflect::set(
            &js_sys::global(),
            &JsValue::from_str(PANIC_GLOBAL),
            &sentence.into(),
        );
    }));
}

fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let obj = Object::new();
    for (key, value) in pairs {
        Reflect::set(&obj, &JsValue::from_str(key), value)
            .expect("setting a property on a plain object");
    }
    obj.into()
}

/// `rgb` as an `ImageData` whose pixels live in JavaScript's memory: one built on a view of the
/// wasm memory would lose them when that memory grows (and hand out all of it as its buffer).
fn image_data(rgb: image::RgbImage) -> Result<JsValue, JsValue> {
    let (w, h) = rgb.dimensions();
    let rgba: Vec<u8> = rgb.pixels().flat_map(|p| [p[0], p[1], p[2], 255]).collect();
    let pixels = js_sys::Uint8ClampedArray::new_with_length(rgba.len() as u32);
    pixels.copy_from(&rgba);
    ImageData::new_with_js_u8_clamped_array_and_sh(&pixels, w, h).map(JsValue::from)
}

fn progress_object(p: Progress) -> JsValue {
    object(&[
        ("octave", p.octave.into()),
        ("octaves", p.octaves.into()),
        ("step", p.step.into()),
        ("steps", p.steps.into()),
        ("done", p.done.into()),
        ("total", p.total.into()),
        // A share of the work, not of the steps: what the time left is read from.
        (
            "work",
            (p.work_done as f64 / p.work_total.max(1) as f64).into(),
        ),
        ("pass", p.pass.into()),
        ("passes", p.passes.into()),
    ])
}

/// The canonical form of a recipe query (`layer=…&octaves=…`), or why it is not valid.
#[wasm_bindgen(js_name = normalizeRecipe)]
pub fn normalize_recipe(query: &str) -> Result<String, JsValue> {
    // Pages are reached by links, which pick up keys that are not the recipe's.
    Ok(DreamParams::from_link(query)?.to_query())
}

/// Checks downloaded weights against their published sha256, so that only a good download is
/// kept in the browser's cache.
#[wasm_bindgen(js_name = checkWeights)]
pub fn check_weights(weights: &[u8], sha256: &str) -> Result<(), JsValue> {
    let found = deepdream_weights::hex(&Sha256::digest(weights));
    if found != sha256.trim() {
        return Err(Error::Weights(format!(
            "the download is corrupt (sha256 {found}, expected {})",
            sha256.trim()
        ))
        .into());
    }
    Ok(())
}

/// Every layer a dream can use, in network order, for the page's layer list; the pre-ReLU
/// values are left out (a channel is read before its ReLU anyway; links may still name them).
#[wasm_bindgen]
pub fn layers() -> Vec<String> {
    Blob::dreamable_all()
        .into_iter()
        .filter(|b| !b.is_pre_relu())
        .map(Blob::name)
        .collect()
}

/// How many channels layer `name` has.
#[wasm_bindgen(js_name = layerChannels)]
pub fn layer_channels(name: &str) -> Result<usize, JsValue> {
    Ok(name.parse::<Blob>()?.channels())
}

/// The recipe's options, one object per row of the engine's table, for the page's form:
/// `{key, label, help, default, kind, min, max, above, choices, applies, listed}`.
#[wasm_bindgen(js_name = recipeOptions)]
pub fn recipe_options() -> Vec<JsValue> {
    OPTIONS
        .iter()
        .map(|o| {
            let (kind, min, max, above, choices) = match o.kind {
                Kind::Whole { min, max } => (
                    "whole",
                    min as f64,
                    max as f64,
                    JsValue::NULL,
                    JsValue::NULL,
                ),
                Kind::Number { min, max } => {
                    ("real", min as f64, max as f64, JsValue::NULL, JsValue::NULL)
                }
                Kind::Real { above, max } => (
                    "real",
                    f64::NAN,
                    max as f64,
                    (above as f64).into(),
                    JsValue::NULL,
                ),
                Kind::Choice(words) => (
                    "choice",
                    f64::NAN,
                    f64::NAN,
                    JsValue::NULL,
                    words
                        .iter()
                        .map(|w| JsValue::from_str(w))
                        .collect::<js_sys::Array>()
                        .into(),
                ),
                Kind::Switch => ("switch", 0.0, 1.0, JsValue::NULL, JsValue::NULL),
                Kind::Layers => ("layers", f64::NAN, f64::NAN, JsValue::NULL, JsValue::NULL),
                Kind::Channel => ("channel", 0.0, f64::NAN, JsValue::NULL, JsValue::NULL),
            };
            let number = |x: f64| if x.is_nan() { JsValue::NULL } else { x.into() };
            let applies = match o.applies {
                Applies::Always => "always",
                Applies::Photo => "photo",
                Applies::Noise => "noise",
                Applies::Motion => "motion",
            };
            object(&[
                ("key", o.key.into()),
                ("label", o.label.into()),
                ("help", o.help.into()),
                ("default", o.default.into()),
                ("allowed", o.kind.allowed().into()),
                ("kind", kind.into()),
                ("min", number(min)),
                ("max", number(max)),
                ("above", above),
                ("choices", choices),
                ("applies", applies.into()),
                ("listed", o.listed.into()),
            ])
        })
        .collect()
}

/// The recipe of a gallery of `layer`'s channels: the engine's thumbnail defaults, then
/// `query`'s values over them (for a smaller or quicker gallery).
#[wasm_bindgen(js_name = galleryRecipe)]
pub fn gallery_recipe(layer: &str, query: &str) -> Result<String, JsValue> {
    Ok(gallery::recipe(layer, query)?.0.to_query())
}

/// What the engine is dreaming: a still picture, or an animation frame by frame.
enum Job {
    Still(Box<Session>),
    Motion(Box<Animation>),
}

impl Job {
    /// The dream of the picture, or of the animation's current frame.
    fn session(&self) -> &Session {
        match self {
            Job::Still(session) => session,
            Job::Motion(animation) => animation.session(),
        }
    }
}

/// The end of the note when `auto` runs on the CPU for want of a GPU.
const ON_CPU: &str = "so the dream runs on the CPU: the same engine, 10 to 50 times slower. \
    Chrome and Edge 113 or later and Safari 26 run it on your GPU";

/// Whether this scope (the page's worker) has `navigator.gpu`.
fn has_webgpu() -> bool {
    Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|navigator| Reflect::has(&navigator, &"gpu".into()))
        .unwrap_or(false)
}

/// GoogLeNet on one device, and the dream in progress on it.
#[wasm_bindgen]
pub struct Engine {
    model: GoogLeNet,
    device: Device,
    limits: Limits,
    gpu: bool,
    /// Why the engine runs where it does, when that is not the browser's GPU as asked.
    note: Option<String>,
    job: Option<Job>,
    /// The batch of gallery thumbnails being rendered, between dream steps.
    gallery: Option<Gallery>,
}

/// Makes engines created from now on run their convolutions as `path` (`mirrored`: the register
/// kernel, `workgroup`: the workgroup-tiled one, `direct`, `gemm`) whatever the adapter, for
/// benchmarks and tests; an error for another name or after the first engine.
#[wasm_bindgen]
pub fn force_convolutions(path: &str) -> Result<(), JsValue> {
    let path = ConvPath::named(path).ok_or_else(|| {
        JsValue::from_str(&format!(
            "no convolution path {path:?}: direct, gemm, mirrored or workgroup"
        ))
    })?;
    if crate::model::force(path) {
        Ok(())
    } else {
        Err(JsValue::from_str(
            "the convolution path is fixed once an engine was created in this module",
        ))
    }
}

#[wasm_bindgen]
impl Engine {
    /// Checks `weights` against `sha256`, sets up the device `engine` names and loads the
    /// network: `webgpu` or `cpu` as named, `auto` the browser's GPU where it has one, else the
    /// CPU (no WebGPU, or only a software renderer, which is slower than the CPU engine), with
    /// a note saying why.
    pub async fn create(
        weights: Vec<u8>,
        sha256: String,
        engine: String,
    ) -> Result<Engine, JsValue> {
        check_weights(&weights, &sha256)?;
        let (gpu, note) = match engine.as_str() {
            "cpu" => (None, None),
            "webgpu" if !has_webgpu() => {
                return Err(Error::NoGpu("this browser has no WebGPU".into()).into());
            }
            "webgpu" => (Some(device::gpu_async().await?), None),
            "auto" if !has_webgpu() => {
                (None, Some(format!("this browser has no WebGPU, {ON_CPU}")))
            }
            "auto" => match device::gpu_async().await {
                Ok(gpu) if gpu.software => {
                    let adapter = if gpu.adapter.is_empty() {
                        "a fallback adapter"
                    } else {
                        &gpu.adapter
                    };
                    let note = format!(
                        "this browser's WebGPU is a software renderer ({adapter}) with no GPU \
                         behind it, slower than the CPU engine, so the dream runs on the CPU"
                    );
                    (None, Some(note))
                }
                Ok(gpu) => (Some(gpu), None),
                Err(e @ Error::NoGpu(_)) => (None, Some(format!("{e}, {ON_CPU}"))),
                Err(e) => return Err(e.into()),
            },
            other => {
                return Err(Error::Invalid {
                    name: "engine",
                    value: other.into(),
                    allowed: "auto, webgpu or cpu".into(),
                }
                .into());
            }
        };
        let (device, limits) = match &gpu {
            Some(gpu) => (gpu.device.clone(), gpu.limits),
            None => (device::cpu(), Limits::cpu()),
        };
        let (model, _) = GoogLeNet::load(weights, &device)?;
        Ok(Engine {
            model,
            device,
            limits,
            gpu: gpu.is_some(),
            note,
            job: None,
            gallery: None,
        })
    }

    /// Why the engine runs on the CPU though WebGPU was not refused (`auto`), or `null`.
    pub fn note(&self) -> Option<String> {
        self.note.clone()
    }

    /// "gpu" or "cpu".
    pub fn backend(&self) -> String {
        if self.gpu { "gpu" } else { "cpu" }.into()
    }

    /// What the device allows and holds, for the page's diagnostics and benchmarks:
    /// `{maxBuffer, passBudget, convolutions, tile, deviceMemory}` (tile and memory once a dream
    /// has begun; `convolutions` the path they run: `Workgroup` on a real GPU, `Mirrored` on a
    /// software adapter).
    pub fn stats(&self) -> JsValue {
        let reserved = self
            .device
            .memory_pool_usage()
            .map_or(JsValue::NULL, |u| (u.bytes_reserved as f64).into());
        let tile = self
            .job
            .as_ref()
            .map_or(JsValue::NULL, |j| j.session().dream().tile().into());
        object(&[
            ("maxBuffer", (self.limits.max_buffer as f64).into()),
            ("passBudget", (self.limits.pass_budget as f64).into()),
            (
                "convolutions",
                format!("{:?}", ConvPath::for_device(&self.device)).into(),
            ),
            ("tile", tile),
            ("deviceMemory", reserved),
        ])
    }

    /// Starts dreaming `photo` (JPEG, PNG, WebP or GIF bytes; none for a recipe that starts
    /// from noise) with the recipe `query`, steered by the `guide` image's bytes when the
    /// recipe has `guide=1`. Returns `{width, height, note, recipe}`; `note` says when the
    /// photo was scaled down.
    pub fn begin(
        &mut self,
        photo: Option<Vec<u8>>,
        query: &str,
        guide: Option<Vec<u8>>,
    ) -> Result<JsValue, JsValue> {
        self.job = None;
        let params = DreamParams::from_query(query)?;
        let frames = params.frames;
        let (photo, guide) = (photo.as_deref(), guide.as_deref());
        let job = if frames > 0 {
            Job::Motion(Box::new(Animation::open(
                &self.model,
                &self.device,
                &self.limits,
                photo,
                params,
                guide,
            )?))
        } else {
            Job::Still(Box::new(Session::open(
                &self.model,
                &self.device,
                &self.limits,
                photo,
                params,
                guide,
            )?))
        };
        let session = job.session();
        let (w, h) = session.size();
        let recipe = match &job {
            Job::Motion(animation) => animation.recipe(),
            Job::Still(session) => session.recipe(),
        };
        let info = object(&[
            ("width", w.into()),
            ("height", h.into()),
            ("note", session.note().map_or(JsValue::NULL, |n| n.into())),
            ("recipe", recipe.into()),
            ("frames", frames.into()),
        ]);
        self.job = Some(job);
        Ok(info)
    }

    /// Starts another dream from the current result with the recipe `query`, the one the page
    /// shows: its next pass when it is the last dream's. Returns the recipe that makes the
    /// result again (the page's link follows it).
    pub fn more(&mut self, query: &str) -> Result<String, JsValue> {
        let params = DreamParams::from_query(query)?;
        let session = match self.job.take() {
            Some(Job::Still(session)) => session,
            _ => return Err(js_sys::Error::new("there is no still dream to continue").into()),
        };
        let more = session.more(params)?;
        let recipe = more.recipe();
        self.job = Some(Job::Still(Box::new(more)));
        Ok(recipe)
    }

    fn session(&self) -> Result<&Session, JsValue> {
        self.job
            .as_ref()
            .map(Job::session)
            .ok_or_else(|| js_sys::Error::new("no photo is being dreamed").into())
    }

    /// Runs one step; returns the progress after it, or `null` once the dream (for an
    /// animation: the current frame) is finished.
    pub fn step(&mut self) -> Result<JsValue, JsValue> {
        let progress = match self.job.as_mut() {
            Some(Job::Still(session)) => session.step()?,
            Some(Job::Motion(animation)) => animation.step()?,
            None => return Err(js_sys::Error::new("no photo is being dreamed").into()),
        };
        Ok(progress.map_or(JsValue::NULL, progress_object))
    }

    /// For an animation, `{index, frames}`: the frame being dreamed (from 0) and how many
    /// there are; `null` for a still picture.
    pub fn frame(&self) -> JsValue {
        match &self.job {
            Some(Job::Motion(animation)) => {
                let (index, frames) = animation.frame();
                object(&[("index", index.into()), ("frames", frames.into())])
            }
            _ => JsValue::NULL,
        }
    }

    /// The current frame (or picture) as finished, at full size with the recipe's colours, as
    /// an `ImageData` (resolves the promise): what the video gets.
    #[wasm_bindgen(js_name = frameImage)]
    pub fn frame_image(&self) -> Result<Promise, JsValue> {
        let rgb = self.session()?.rgb();
        Ok(future_to_promise(async move { image_data(rgb.await?) }))
    }

    /// Starts an animation's next frame from the finished one (the RGBA pixels of
    /// [`Engine::frame_image`]); `false` when every frame is done.
    pub fn advance(&mut self, rgba: &[u8]) -> Result<bool, JsValue> {
        let Some(Job::Motion(animation)) = self.job.as_mut() else {
            return Err(js_sys::Error::new("no animation is being dreamed").into());
        };
        let (w, h) = animation.session().size();
        if rgba.len() != (w * h * 4) as usize {
            return Err(js_sys::Error::new("the frame's pixels are not the frame's size").into());
        }
        let rgb = image::RgbImage::from_fn(w, h, |x, y| {
            let i = ((y * w + x) * 4) as usize;
            image::Rgb([rgba[i], rgba[i + 1], rgba[i + 2]])
        });
        Ok(animation.advance(&rgb)?)
    }

    /// The image so far at the current octave's size, as an `ImageData` (resolves the promise).
    pub fn preview(&self) -> Result<Promise, JsValue> {
        let image = self.session()?.preview();
        Ok(future_to_promise(async move { image_data(image.await?) }))
    }

    /// The result so far at full size as PNG bytes, with the photo's alpha and the recipe inside.
    /// An animation's frame carries the animation's recipe.
    pub fn png(&self) -> Result<Promise, JsValue> {
        let png = match &self.job {
            Some(Job::Motion(animation)) => animation.session().png_as(animation.recipe()),
            _ => {
                let session = self.session()?;
                session.png_as(session.recipe())
            }
        };
        Ok(future_to_promise(async move {
            Ok(Uint8Array::from(png.await?.as_slice()).into())
        }))
    }

    /// The result so far at full size as JPEG bytes.
    pub fn jpeg(&self) -> Result<Promise, JsValue> {
        let jpeg = self.session()?.jpeg();
        Ok(future_to_promise(async move {
            Ok(Uint8Array::from(jpeg.await?.as_slice()).into())
        }))
    }

    /// Starts rendering the thumbnails of `channels` of `layer` together, with the gallery
    /// recipe `query` (from [`gallery_recipe`]); a batch already running is dropped.
    #[wasm_bindgen(js_name = galleryBegin)]
    pub fn gallery_begin(
        &mut self,
        layer: &str,
        channels: Vec<u32>,
        query: &str,
    ) -> Result<(), JsValue> {
        self.gallery = None;
        let (params, layer) = gallery::recipe(layer, query)?;
        // Gallery::new checks each channel against the layer, as a recipe's would be.
        let channels: Vec<usize> = channels.into_iter().map(|c| c as usize).collect();
        self.gallery = Some(Gallery::new(
            &self.model,
            &self.device,
            layer,
            &channels,
            &params,
        )?);
        Ok(())
    }

    /// One step of the thumbnails' batch; `false` once it is finished (or there is none).
    #[wasm_bindgen(js_name = galleryStep)]
    pub fn gallery_step(&mut self) -> Result<bool, JsValue> {
        match self.gallery.as_mut() {
            Some(gallery) => Ok(gallery.step()?),
            None => Ok(false),
        }
    }

    /// The batch's thumbnails as PNG bytes, each with its recipe (resolves to an array, in
    /// the order of the channels asked); the batch is then dropped.
    #[wasm_bindgen(js_name = galleryImages)]
    pub fn gallery_images(&mut self) -> Result<Promise, JsValue> {
        let gallery = self
            .gallery
            .take()
            .ok_or_else(|| js_sys::Error::new("no gallery batch is being rendered"))?;
        let pngs = gallery.pngs();
        Ok(future_to_promise(async move {
            let array = js_sys::Array::new();
            for png in pngs.await? {
                array.push(&Uint8Array::from(png.as_slice()));
            }
            Ok(array.into())
        }))
    }
}
