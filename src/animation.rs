//! Infinite-zoom animations: the first frame is the recipe's dream of the photo (or of noise);
//! each later frame is the last one zoomed and turned ([`crate::dream::motion`]) and dreamed
//! again with one octave of `steps-per-frame` steps and its own seed. Both faces drive it the
//! same way: step until a frame is finished, read it back, hand it to [`Animation::advance`].

use burn::tensor::Device;
use image::RgbImage;

use crate::Error;
use crate::device::Limits;
use crate::dream::motion::zoom_rotate;
use crate::dream::{DreamParams, Progress, Start};
use crate::model::GoogLeNet;
use crate::session::Session;

/// An animation being dreamed, one frame at a time.
pub struct Animation {
    model: GoogLeNet,
    device: Device,
    limits: Limits,
    params: DreamParams,
    session: Session,
    /// The frame being dreamed, from 0.
    frame: usize,
}

impl Animation {
    /// Starts the first frame from `photo`'s bytes (or noise, as the recipe says), steered by
    /// `guide`'s bytes when the recipe has one. The recipe must ask for frames.
    pub fn open(
        model: &GoogLeNet,
        device: &Device,
        limits: &Limits,
        photo: Option<&[u8]>,
        params: DreamParams,
        guide: Option<&[u8]>,
    ) -> Result<Self, Error> {
        if params.frames == 0 {
            return Err(Error::Invalid {
                name: "frames",
                value: "0".into(),
                allowed: "a whole number from 1 to 10000 for an animation".into(),
            });
        }
        let session = Session::open(model, device, limits, photo, params.clone(), guide)?;
        Ok(Self {
            model: model.clone(),
            device: device.clone(),
            limits: *limits,
            params,
            session,
            frame: 0,
        })
    }

    /// One gradient step of the current frame; `None` once that frame is finished.
    pub fn step(&mut self) -> Result<Option<Progress>, Error> {
        self.session.step()
    }

    /// The frame being dreamed (from 0) and the frames in all.
    pub fn frame(&self) -> (usize, usize) {
        (self.frame, self.params.frames)
    }

    /// The current frame's dream (its size, previews, result).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The animation's recipe (the first frame's, with the motion).
    pub fn recipe(&self) -> String {
        self.params.to_query()
    }

    /// Starts the next frame from `finished` (the current frame as read back); `false` when
    /// the animation has all its frames.
    pub fn advance(&mut self, finished: &RgbImage) -> Result<bool, Error> {
        if self.frame + 1 >= self.params.frames {
            return Ok(false);
        }
        let next = zoom_rotate(finished, self.params.zoom, self.params.rotate);
        let params = DreamParams {
            start: Start::Photo,
            octaves: 1,
            steps: self.params.steps_per_frame,
            passes: 1,
            seed: self.params.seed.wrapping_add(self.frame as u64 + 1),
            ..self.params.clone()
        };
        self.session = Session::from_rgb(
            &self.model,
            &self.device,
            &self.limits,
            next,
            params,
            self.session.guide().cloned(),
        )?;
        self.frame += 1;
        Ok(true)
    }
}
