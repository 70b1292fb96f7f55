//! The wasm-bindgen face: what the page's Web Worker calls. It owns no DeepDream logic; it moves
//! bytes and recipes between JavaScript and the engine.

use burn::tensor::Device;
use js_sys::{Object, Promise, Reflect, Uint8Array};
use sha2::{Digest, Sha256};
use wasm_bindgen::Clamped;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::ImageData;

use crate::Error;
use crate::device::{self, Limits};
use crate::dream::{DreamParams, Progress};
use crate::image_io;
use crate::model::{Blob, GoogLeNet};
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

fn progress(p: Progress) -> JsValue {
    object(&[
        ("octave", p.octave.into()),
        ("octaves", p.octaves.into()),
        ("step", p.step.into()),
        ("steps", p.steps.into()),
        ("done", p.done.into()),
        ("total", p.total.into()),
    ])
}

/// The canonical form of a recipe query (`layer=…&octaves=…`), or why it is not valid.
#[wasm_bindgen(js_name = normalizeRecipe)]
pub fn normalize_recipe(query: &str) -> Result<String, JsValue> {
    Ok(DreamParams::from_query(query)?.to_query())
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

/// Every layer a dream can use, in network order, for the page's layer list.
#[wasm_bindgen]
pub fn layers() -> Vec<String> {
    Blob::dreamable_all().into_iter().map(Blob::name).collect()
}

/// GoogLeNet on one device, and the dream in progress on it.
#[wasm_bindgen]
pub struct Engine {
    model: GoogLeNet,
    device: Device,
    limits: Limits,
    gpu: bool,
    session: Option<Session>,
}

#[wasm_bindgen]
impl Engine {
    /// Checks `weights` against `sha256`, sets up WebGPU (or the CPU when `gpu` is false) and
    /// loads the network.
    pub async fn create(weights: Vec<u8>, sha256: String, gpu: bool) -> Result<Engine, JsValue> {
        check_weights(&weights, &sha256)?;
        let (device, limits) = if gpu {
            let gpu = device::gpu_async().await?;
            (gpu.device, gpu.limits)
        } else {
            (device::cpu(), Limits::cpu())
        };
        let (model, _) = GoogLeNet::load(weights, &device)?;
        Ok(Engine {
            model,
            device,
            limits,
            gpu,
            session: None,
        })
    }

    /// "gpu" or "cpu".
    pub fn backend(&self) -> String {
        if self.gpu { "gpu" } else { "cpu" }.into()
    }

    /// What the device allows and holds, for the page's diagnostics and benchmarks:
    /// `{maxBuffer, passBudget, tile, deviceMemory}` (tile and memory once a dream has begun).
    pub fn stats(&self) -> JsValue {
        let reserved = self
            .device
            .memory_pool_usage()
            .map_or(JsValue::NULL, |u| (u.bytes_reserved as f64).into());
        let tile = self
            .session
            .as_ref()
            .map_or(JsValue::NULL, |s| s.dream().tile().into());
        object(&[
            ("maxBuffer", (self.limits.max_buffer as f64).into()),
            ("passBudget", (self.limits.pass_budget as f64).into()),
            ("tile", tile),
            ("deviceMemory", reserved),
        ])
    }

    /// Starts dreaming `photo` (JPEG, PNG, WebP or GIF bytes) with the recipe `query`. Returns
    /// `{width, height, note, recipe}`; `note` says when the photo was scaled down.
    pub fn begin(&mut self, photo: &[u8], query: &str) -> Result<JsValue, JsValue> {
        self.session = None;
        let params = DreamParams::from_query(query)?;
        let photo = Session::read(photo, &params)?;
        let session = Session::begin(&self.model, &self.device, &self.limits, photo, params)?;
        let (w, h) = session.size();
        let info = object(&[
            ("width", w.into()),
            ("height", h.into()),
            ("note", session.note().map_or(JsValue::NULL, |n| n.into())),
            ("recipe", session.recipe().into()),
        ]);
        self.session = Some(session);
        Ok(info)
    }

    /// Starts another dream from the current result with the recipe `query`, the one the page
    /// shows (at the next seed when it is the last dream's).
    pub fn more(&mut self, query: &str) -> Result<(), JsValue> {
        let params = DreamParams::from_query(query)?;
        let session = self
            .session
            .take()
            .ok_or_else(|| js_sys::Error::new("there is no dream to continue"))?;
        self.session = Some(session.more(&self.model, &self.limits, params)?);
        Ok(())
    }

    fn session(&self) -> Result<&Session, JsValue> {
        self.session
            .as_ref()
            .ok_or_else(|| js_sys::Error::new("no photo is being dreamed").into())
    }

    /// Runs one step; returns the progress after it, or `null` once the dream is finished.
    pub fn step(&mut self) -> Result<JsValue, JsValue> {
        let session = self
            .session
            .as_mut()
            .ok_or_else(|| js_sys::Error::new("no photo is being dreamed"))?;
        Ok(session.step()?.map_or(JsValue::NULL, progress))
    }

    /// The image so far at the current octave's size, as an `ImageData` (resolves the promise).
    pub fn preview(&self) -> Result<Promise, JsValue> {
        let image = self.session()?.preview();
        Ok(future_to_promise(async move {
            let rgb = image_io::from_tensor(image).await?;
            let (w, h) = rgb.dimensions();
            let rgba: Vec<u8> = rgb.pixels().flat_map(|p| [p[0], p[1], p[2], 255]).collect();
            ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), w, h).map(JsValue::from)
        }))
    }

    /// The result so far at full size as PNG bytes, with the photo's alpha and the recipe inside.
    pub fn png(&self) -> Result<Promise, JsValue> {
        let png = self.session()?.png();
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
}
