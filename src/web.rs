//! The wasm-bindgen face: what the page's Web Worker calls. It owns no DeepDream logic; it moves
//! bytes and recipes between JavaScript and the engine.

use burn::tensor::{Device, Tensor};
use js_sys::{Object, Promise, Reflect, Uint8Array};
use sha2::{Digest, Sha256};
use wasm_bindgen::Clamped;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::ImageData;

use crate::dream::{Dream, DreamParams, Progress};
use crate::image_io::{self, Photo};
use crate::model::{Blob, GoogLeNet};
use crate::{Error, device};

impl From<Error> for JsValue {
    fn from(e: Error) -> Self {
        js_sys::Error::new(&e.to_string()).into()
    }
}

/// Panics become readable console errors (the instance is dead after one; the page restarts it).
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
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
    Ok(parse_recipe(query)?.to_query())
}

fn parse_recipe(query: &str) -> Result<DreamParams, Error> {
    let query = query.trim_start_matches('?');
    let pairs = query.split('&').filter(|kv| !kv.is_empty()).map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (decode_uri(k), decode_uri(v))
    });
    DreamParams::from_pairs(pairs)
}

fn decode_uri(s: &str) -> String {
    js_sys::decode_uri_component(&s.replace('+', " "))
        .map(String::from)
        .unwrap_or_else(|_| s.to_string())
}

/// Every layer name, in network order, for the page's layer list.
#[wasm_bindgen]
pub fn layers() -> Vec<String> {
    Blob::all().into_iter().map(Blob::name).collect()
}

/// GoogLeNet on one device, and the dream in progress on it.
#[wasm_bindgen]
pub struct Engine {
    model: GoogLeNet,
    device: Device,
    gpu: bool,
    session: Option<Session>,
}

struct Session {
    dream: Dream,
    params: DreamParams,
    alpha: Option<image::GrayImage>,
}

#[wasm_bindgen]
impl Engine {
    /// Checks `weights` against `sha256`, sets up WebGPU (or the CPU when `gpu` is false) and
    /// loads the network.
    pub async fn create(weights: Vec<u8>, sha256: String, gpu: bool) -> Result<Engine, JsValue> {
        let found = deepdream_weights::hex(&Sha256::digest(&weights));
        if found != sha256.trim() {
            return Err(Error::Weights(format!(
                "the download is corrupt (sha256 {found}, expected {})",
                sha256.trim()
            ))
            .into());
        }
        let device = if gpu {
            device::gpu_async().await?
        } else {
            device::cpu()
        };
        let (model, _) = GoogLeNet::load(weights, &device)?;
        Ok(Engine {
            model,
            device,
            gpu,
            session: None,
        })
    }

    /// "gpu" or "cpu".
    pub fn backend(&self) -> String {
        if self.gpu { "gpu" } else { "cpu" }.into()
    }

    /// Starts dreaming `photo` (JPEG, PNG, WebP or GIF bytes) with the recipe `query`. Returns
    /// `{width, height, note, recipe}`; `note` says when the photo was scaled down.
    pub fn begin(&mut self, photo: &[u8], query: &str) -> Result<JsValue, JsValue> {
        self.session = None;
        let params = parse_recipe(query)?;
        let photo = image_io::decode(photo)?;
        let (Photo { rgb, alpha }, note) = image_io::fit(photo, params.max_size);
        let (w, h) = rgb.dimensions();
        params.check_size(w as usize, h as usize)?;
        let image = image_io::to_tensor(&rgb, &self.device);
        self.start(image, params.clone(), alpha)?;
        Ok(object(&[
            ("width", w.into()),
            ("height", h.into()),
            ("note", note.map_or(JsValue::NULL, |n| n.into())),
            ("recipe", params.to_query().into()),
        ]))
    }

    /// Starts another dream from the current result, with the same recipe and the next seed.
    pub fn more(&mut self) -> Result<(), JsValue> {
        let session = self
            .session
            .take()
            .ok_or_else(|| js_sys::Error::new("there is no dream to continue"))?;
        let params = DreamParams {
            seed: session.params.seed.wrapping_add(1),
            ..session.params
        };
        Ok(self.start(session.dream.result(), params, session.alpha)?)
    }

    fn start(
        &mut self,
        image: Tensor<4>,
        params: DreamParams,
        alpha: Option<image::GrayImage>,
    ) -> Result<(), Error> {
        let dream = Dream::new(&self.model, image, params.clone())?;
        self.session = Some(Session {
            dream,
            params,
            alpha,
        });
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
        Ok(session.dream.step()?.map_or(JsValue::NULL, progress))
    }

    /// The image so far at the current octave's size, as an `ImageData` (resolves the promise).
    pub fn preview(&self) -> Result<Promise, JsValue> {
        let image = self.session()?.dream.preview();
        Ok(future_to_promise(async move {
            let rgb = image_io::from_tensor(image).await?;
            let (w, h) = rgb.dimensions();
            let rgba: Vec<u8> = rgb.pixels().flat_map(|p| [p[0], p[1], p[2], 255]).collect();
            ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), w, h).map(JsValue::from)
        }))
    }

    /// The result so far at full size as PNG bytes, with the photo's alpha and the recipe inside.
    pub fn png(&self) -> Result<Promise, JsValue> {
        let session = self.session()?;
        let (image, alpha, recipe) = (
            session.dream.result(),
            session.alpha.clone(),
            session.params.to_query(),
        );
        Ok(future_to_promise(async move {
            let rgb = image_io::from_tensor(image).await?;
            let bytes = image_io::encode_png(&rgb, alpha.as_ref(), &recipe)?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        }))
    }

    /// The result so far at full size as JPEG bytes.
    pub fn jpeg(&self) -> Result<Promise, JsValue> {
        let image = self.session()?.dream.result();
        Ok(future_to_promise(async move {
            let rgb = image_io::from_tensor(image).await?;
            let bytes = image_io::encode_jpeg(&rgb)?;
            Ok(Uint8Array::from(bytes.as_slice()).into())
        }))
    }
}
