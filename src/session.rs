//! The one pipeline both faces run: a photo's bytes are decoded, fitted to the recipe and the
//! device, dreamed step by step, and encoded with the recipe inside. The command line and the
//! page each make a few calls here, so they cannot drift apart.

use burn::tensor::{Device, Tensor};
use image::GrayImage;

use crate::Error;
use crate::device::Limits;
use crate::dream::{Dream, DreamParams, Progress};
use crate::image_io::{self, Photo};
use crate::model::GoogLeNet;

/// A photo being dreamed (or dreamed): the dream on the device, its recipe, and what the
/// encoders need that the dream does not hold (the photo's alpha).
pub struct Session {
    dream: Dream,
    params: DreamParams,
    alpha: Option<GrayImage>,
    size: (u32, u32),
    note: Option<String>,
}

impl Session {
    /// Reads a photo for `params`: decodes it (JPEG, PNG, WebP or GIF bytes) and refuses it
    /// when it is too small for the recipe, since scaling down cannot make it fit. Needs no
    /// device, so a face can refuse a bad file before it loads the network.
    pub fn read(photo: &[u8], params: &DreamParams) -> Result<Photo, Error> {
        params.validate()?;
        let photo = image_io::decode(photo)?;
        let (w, h) = photo.dimensions();
        params.check_size(w as usize, h as usize)?;
        Ok(photo)
    }

    /// Scales a photo from [`Session::read`] down to the recipe's `max-size` and to what
    /// `limits` allow, and starts dreaming it on `device`.
    pub fn begin(
        model: &GoogLeNet,
        device: &Device,
        limits: &Limits,
        photo: Photo,
        params: DreamParams,
    ) -> Result<Session, Error> {
        let (Photo { rgb, alpha }, note) =
            image_io::fit(photo, params.max_size, limits.max_pixels());
        let size = rgb.dimensions();
        // Dream::new checks the recipe and this size against it.
        let image = image_io::to_tensor(&rgb, device);
        let dream = Dream::new(model, image, params.clone(), limits)?;
        Ok(Session {
            dream,
            params,
            alpha,
            size,
            note,
        })
    }

    /// Another dream from this one's result, with `params` (the recipe the face shows). Its
    /// seed moves on by one when it is this dream's, so "more" never repeats the same jitter.
    pub fn more(
        self,
        model: &GoogLeNet,
        limits: &Limits,
        params: DreamParams,
    ) -> Result<Session, Error> {
        let seed = if params.seed == self.params.seed {
            params.seed.wrapping_add(1)
        } else {
            params.seed
        };
        let params = DreamParams { seed, ..params };
        let dream = Dream::new(model, self.dream.result(), params.clone(), limits)?;
        Ok(Session {
            dream,
            params,
            note: None,
            ..self
        })
    }

    /// Runs one step; the progress after it, or `None` once the dream is finished.
    pub fn step(&mut self) -> Result<Option<Progress>, Error> {
        self.dream.step()
    }

    /// The dream in progress (its tile side, previews).
    pub fn dream(&self) -> &Dream {
        &self.dream
    }

    /// The dreamed image's size, after fitting.
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// Why the photo was scaled down, if it was.
    pub fn note(&self) -> Option<&str> {
        self.note.as_deref()
    }

    /// The recipe as a query (`layer=…&octaves=…`), the form links and PNGs carry.
    pub fn recipe(&self) -> String {
        self.params.to_query()
    }

    /// The image so far at the current octave's size, on the device.
    pub fn preview(&self) -> Tensor<4> {
        self.dream.preview()
    }

    /// The result so far at full size as PNG bytes, with the photo's alpha and the recipe.
    /// (Reading back is asynchronous in the browser; natively, block on it.)
    pub fn png(&self) -> impl Future<Output = Result<Vec<u8>, Error>> + use<> {
        let (image, alpha, recipe) = (self.dream.result(), self.alpha.clone(), self.recipe());
        async move {
            let rgb = image_io::from_tensor(image).await?;
            image_io::encode_png(&rgb, alpha.as_ref(), &recipe)
        }
    }

    /// The result so far at full size as JPEG bytes.
    pub fn jpeg(&self) -> impl Future<Output = Result<Vec<u8>, Error>> + use<> {
        let image = self.dream.result();
        async move {
            let rgb = image_io::from_tensor(image).await?;
            image_io::encode_jpeg(&rgb)
        }
    }
}
