//! The one pipeline both faces run: a photo's bytes are decoded, fitted to the recipe and the
//! device, dreamed step by step, and encoded with the recipe inside. The command line and the
//! page each make a few calls here, so they cannot drift apart.

use burn::tensor::{Device, Tensor};
use image::imageops::FilterType;
use image::{GrayImage, RgbImage};

use crate::Error;
use crate::device::Limits;
use crate::dream::{self, Dream, DreamParams, GUIDE_SIDE, Guide, Objective, Progress, Start};
use crate::image_io::{self, Photo};
use crate::model::GoogLeNet;

/// A photo being dreamed (or dreamed): the dream on the device, its recipe, and what the
/// encoders need that the dream does not hold (the photo's alpha, and its colours when the
/// recipe keeps them).
pub struct Session {
    dream: Dream,
    params: DreamParams,
    alpha: Option<GrayImage>,
    /// The photo as fitted (none for a dream from noise): the colours `keep-colors` keeps,
    /// in this dream or a later "more".
    photo: Option<RgbImage>,
    guide: Option<Guide>,
    size: (u32, u32),
    note: Option<String>,
    /// The pass being dreamed, from 0 (see `passes` in the recipe).
    pass: usize,
    /// The pass this run started at: 0, or the passes before a "more".
    first: usize,
    /// The recipes this picture was dreamed with before its own, oldest first, when "more"
    /// went on with another recipe: a PNG carries them so that it can be made again.
    before: Vec<String>,
}

/// The refusal of a recipe and a guide image that do not go together.
fn guide_mismatch(value: &str, allowed: &str) -> Error {
    Error::Invalid {
        name: "guide",
        value: value.into(),
        allowed: allowed.into(),
    }
}

/// The guide's features at the recipe's layer, read at about [`GUIDE_SIDE`] px. `None` when
/// the recipe has no guide; a refusal when only one of the recipe and the image says there
/// is one.
fn guide_for(
    model: &GoogLeNet,
    device: &Device,
    params: &DreamParams,
    guide: Option<Photo>,
) -> Result<Option<Guide>, Error> {
    let layer = match (&params.objective, params.guide, guide) {
        (_, false, None) => return Ok(None),
        (_, true, None) => {
            return Err(guide_mismatch(
                "1",
                "a guide image with it (`--guide IMAGE`, or the page's Guide image), or guide=0",
            ));
        }
        (_, false, Some(_)) => {
            return Err(guide_mismatch("0", "1 when a guide image is given"));
        }
        (Objective::Layer(layer), true, Some(photo)) => (*layer, photo),
        _ => unreachable!("a guide with other objectives is refused by validation"),
    };
    let (blob, photo) = layer;
    let (fitted, _) = image_io::fit(photo, GUIDE_SIDE, u64::MAX);
    let (w, h) = fitted.dimensions();
    let min = blob.min_input();
    if (w.min(h) as usize) < min {
        return Err(Error::Image(format!(
            "the guide image is {w}×{h} px after fitting to {GUIDE_SIDE} px, too small for layer \
             {blob}, which needs at least {min}×{min} px: use a larger or less elongated guide"
        )));
    }
    Guide::new(model, image_io::to_tensor(&fitted.rgb, device), blob).map(Some)
}

/// Reads a guide image's bytes for [`Session::begin`] (any photo format).
pub fn read_guide(bytes: &[u8]) -> Result<Photo, Error> {
    image_io::decode(bytes).map_err(|e| Error::Image(format!("the guide image: {e}")))
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
    /// `limits` allow, and starts dreaming it on `device`, steered by `guide` when the recipe
    /// says so. A recipe that starts from noise ignores the photo.
    pub fn begin(
        model: &GoogLeNet,
        device: &Device,
        limits: &Limits,
        photo: Photo,
        params: DreamParams,
        guide: Option<Photo>,
    ) -> Result<Session, Error> {
        if params.start == Start::Noise {
            return Self::noise(model, device, limits, params, guide);
        }
        let (Photo { rgb, alpha }, note) =
            image_io::fit(photo, params.max_size, limits.max_pixels());
        // A video's frames have even sides (H.264 needs them): one column or row less at most.
        let (rgb, alpha) = if params.frames > 0 {
            let (w, h) = rgb.dimensions();
            let (ew, eh) = ((w & !1).max(2), (h & !1).max(2));
            let crop = |i: &RgbImage| image::imageops::crop_imm(i, 0, 0, ew, eh).to_image();
            let alpha = alpha.map(|a| image::imageops::crop_imm(&a, 0, 0, ew, eh).to_image());
            (crop(&rgb), alpha)
        } else {
            (rgb, alpha)
        };
        let guide = guide_for(model, device, &params, guide)?;
        let mut session = Self::from_rgb(model, device, limits, rgb, params, guide)?;
        session.alpha = alpha;
        session.note = note;
        Ok(session)
    }

    /// A dream of `rgb`, already fitted, with the guide's features already read: how an
    /// animation starts each frame after the first.
    pub(crate) fn from_rgb(
        model: &GoogLeNet,
        device: &Device,
        limits: &Limits,
        rgb: RgbImage,
        params: DreamParams,
        guide: Option<Guide>,
    ) -> Result<Session, Error> {
        let image = image_io::to_tensor(&rgb, device);
        Self::start(model, limits, image, Some(rgb), params, guide)
    }

    /// Starts dreaming `image` ([1, 3, H, W] on the device) with the guide's features already
    /// read; `photo` is the picture it was made from (the colours `keep-colors` keeps).
    fn start(
        model: &GoogLeNet,
        limits: &Limits,
        image: Tensor<4>,
        photo: Option<RgbImage>,
        params: DreamParams,
        guide: Option<Guide>,
    ) -> Result<Session, Error> {
        let [_, _, h, w] = image.dims();
        // Dream::new checks the recipe and this size against it.
        let mut dream = Dream::new(model, image, params.clone(), limits)?;
        if let Some(guide) = &guide {
            dream = dream.guided(guide.clone());
        }
        Ok(Session {
            dream,
            photo,
            params,
            alpha: None,
            guide,
            size: (w as u32, h as u32),
            note: None,
            pass: 0,
            first: 0,
            before: Vec::new(),
        })
    }

    /// The guide's features, when the dream has a guide.
    pub(crate) fn guide(&self) -> Option<&Guide> {
        self.guide.as_ref()
    }

    /// Everything a face hands over, in one call: starts from `photo`'s bytes, or from noise
    /// when the recipe says so (the photo is then not needed), steered by `guide`'s bytes.
    pub fn open(
        model: &GoogLeNet,
        device: &Device,
        limits: &Limits,
        photo: Option<&[u8]>,
        params: DreamParams,
        guide: Option<&[u8]>,
    ) -> Result<Session, Error> {
        let guide = guide.map(read_guide).transpose()?;
        match (params.start, photo) {
            (Start::Noise, _) => Self::noise(model, device, limits, params, guide),
            (Start::Photo, Some(bytes)) => {
                let photo = Self::read(bytes, &params)?;
                Self::begin(model, device, limits, photo, params, guide)
            }
            (Start::Photo, None) => Err(Error::Image(
                "there is no photo to dream: choose one, or start from noise".into(),
            )),
        }
    }

    /// Starts a dream from grey noise of the recipe's `size` (feature visualisation): what
    /// the objective itself looks like.
    pub fn noise(
        model: &GoogLeNet,
        device: &Device,
        limits: &Limits,
        params: DreamParams,
        guide: Option<Photo>,
    ) -> Result<Session, Error> {
        let params = DreamParams {
            start: Start::Noise,
            ..params
        };
        params.validate()?;
        // A video's frames have even sides (H.264 needs them).
        let side = if params.frames > 0 {
            params.size & !1
        } else {
            params.size
        };
        let image = dream::noise([side, side], params.seed, device);
        let guide = guide_for(model, device, &params, guide)?;
        Self::start(model, limits, image, None, params, guide)
    }

    /// Another dream from this one's result, with `params` (the recipe the face shows). The
    /// same recipe goes on as its next pass (`passes` grows by one, the pass takes the next
    /// seed), so the continued dream's recipe makes the same picture again. Another recipe
    /// starts from the result, and the recipes before it are kept for the PNG. The guide and
    /// the photo's colours carry over; a dream from noise goes on from its result, as a photo
    /// would.
    pub fn more(self, params: DreamParams) -> Result<Session, Error> {
        let unpassed = |p: &DreamParams| {
            DreamParams {
                passes: 1,
                ..p.clone()
            }
            .to_query()
        };
        if unpassed(&params) == unpassed(&self.params) {
            let pass = self.params.passes;
            let params = DreamParams {
                passes: pass + 1,
                ..self.params.clone()
            };
            let dream = self.dream.again(Self::pass_params(&params, pass))?;
            return Ok(Session {
                dream,
                params,
                note: None,
                pass,
                first: pass,
                ..self
            });
        }
        let params = DreamParams {
            start: Start::Photo,
            ..params
        };
        if params.guide != self.guide.is_some() {
            return Err(guide_mismatch(
                if params.guide { "1" } else { "0" },
                "what the last dream had: start a new dream to add or drop a guide image",
            ));
        }
        if params.keep_colors && self.photo.is_none() {
            return Err(Error::Invalid {
                name: "keep-colors",
                value: "1".into(),
                allowed: "0 for a dream from noise: there is no photo to keep the colours of"
                    .into(),
            });
        }
        let dream = self.dream.again(Self::pass_params(&params, 0))?;
        let mut before = self.before.clone();
        before.push(self.recipe());
        Ok(Session {
            dream,
            params,
            note: None,
            pass: 0,
            first: 0,
            before,
            ..self
        })
    }

    /// What pass `pass` of `params` dreams with: the next seed, from the last pass's result.
    fn pass_params(params: &DreamParams, pass: usize) -> DreamParams {
        DreamParams {
            seed: params.seed.wrapping_add(pass as u64),
            start: if pass == 0 {
                params.start
            } else {
                Start::Photo
            },
            ..params.clone()
        }
    }

    /// `p`, one pass's progress, as this run's: its passes laid end to end.
    fn overall(&self, p: Progress) -> Progress {
        let (run, passes) = (self.pass - self.first, self.params.passes - self.first);
        Progress {
            done: run * p.total + p.done,
            total: passes * p.total,
            work_done: run as u64 * p.work_total + p.work_done,
            work_total: passes as u64 * p.work_total,
            pass: self.pass + 1,
            passes: self.params.passes,
            ..p
        }
    }

    /// Runs one step; the progress after it, or `None` once the dream is finished.
    pub fn step(&mut self) -> Result<Option<Progress>, Error> {
        if let Some(p) = self.dream.step()? {
            return Ok(Some(self.overall(p)));
        }
        if self.pass + 1 >= self.params.passes {
            return Ok(None);
        }
        self.pass += 1;
        self.dream = self
            .dream
            .again(Self::pass_params(&self.params, self.pass))?;
        self.step()
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

    /// The image so far at the current octave's size, as the result will look (the photo's
    /// colours kept when the recipe says so). Cheap, for previews.
    pub fn preview(&self) -> impl Future<Output = Result<RgbImage, Error>> + use<> {
        self.read_back(self.dream.preview())
    }

    /// The result so far at full size, as the downloads show it (colours kept when asked),
    /// read back from the device.
    pub fn rgb(&self) -> impl Future<Output = Result<RgbImage, Error>> + use<> {
        self.read_back(self.dream.result())
    }

    /// Reads `image` back and keeps the photo's colours in it when the recipe says so.
    fn read_back(&self, image: Tensor<4>) -> impl Future<Output = Result<RgbImage, Error>> + use<> {
        let colours = self.photo.clone().filter(|_| self.params.keep_colors);
        async move {
            let rgb = image_io::from_tensor(image).await?;
            Ok(match colours {
                Some(photo) => {
                    let (w, h) = rgb.dimensions();
                    let photo = if photo.dimensions() == (w, h) {
                        photo
                    } else {
                        image::imageops::resize(&photo, w, h, FilterType::Triangle)
                    };
                    image_io::keep_colours(&rgb, &photo)
                }
                None => rgb,
            })
        }
    }

    /// The result so far at full size as PNG bytes, with the photo's alpha and the recipe.
    /// (Reading back is asynchronous in the browser; natively, block on it.)
    pub fn png(&self) -> impl Future<Output = Result<Vec<u8>, Error>> + use<> {
        self.png_as(self.recipe())
    }

    /// [`Session::png`] with `recipe` in place of this dream's own (an animation's frame
    /// carries the animation's).
    pub fn png_as(&self, recipe: String) -> impl Future<Output = Result<Vec<u8>, Error>> + use<> {
        let (alpha, before) = (self.alpha.clone(), self.before.clone());
        let rgb = self.read_back(self.dream.result());
        async move { image_io::encode_png(&rgb.await?, alpha.as_ref(), &recipe, &before) }
    }

    /// The result so far at full size as JPEG bytes.
    pub fn jpeg(&self) -> impl Future<Output = Result<Vec<u8>, Error>> + use<> {
        let rgb = self.read_back(self.dream.result());
        async move { image_io::encode_jpeg(&rgb.await?) }
    }
}
