//! What the command line writes besides a picture: an animation's frames (a folder of PNGs, a
//! GIF or an animated PNG, frame by frame) and a gallery's contact sheet (one picture, and an
//! index page). In the library, next to the encoders, so that any face can write the same files.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::dream::DreamParams;
use crate::image_io;
use crate::model::Blob;

/// Every thumbnail in one picture, in channel order, rows of up to 16 with a 2 px gap: a
/// gallery to share as one file.
pub fn sheet_image(thumbnails: &[image::RgbImage]) -> image::RgbImage {
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
pub fn contact_sheet(layer: Blob, names: &[(usize, String)], params: &DreamParams) -> String {
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
pub enum Frames {
    Folder(PathBuf),
    Gif(image::codecs::gif::GifEncoder<std::io::BufWriter<std::fs::File>>),
    Apng(png::Writer<std::io::BufWriter<std::fs::File>>, PathBuf),
}

impl Frames {
    /// Refuses an output that is neither a folder (no extension), a .gif nor a .png.
    pub fn check(output: &Path) -> Result<(), Error> {
        let ext = output
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            None | Some("gif" | "png" | "apng") => Ok(()),
            Some(_) => Err(Error::Write(format!(
                "{}: an animation is written to a folder (no extension), a .gif or a .png",
                output.display()
            ))),
        }
    }

    pub fn create(output: &Path, params: &DreamParams, (w, h): (u32, u32)) -> Result<Self, Error> {
        let name = output.to_string_lossy().to_ascii_lowercase();
        let file = || {
            std::fs::File::create(output)
                .map(std::io::BufWriter::new)
                .map_err(|e| Error::Write(format!("cannot write {}: {e}", output.display())))
        };
        let fail = |e: &dyn std::fmt::Display| Error::Write(format!("{}: {e}", output.display()));
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

    pub fn add(
        &mut self,
        frame: usize,
        rgb: &image::RgbImage,
        params: &DreamParams,
    ) -> Result<(), Error> {
        match self {
            Frames::Folder(dir) => {
                let path = dir.join(format!("frame-{:04}.png", frame + 1));
                let png = image_io::encode_png(rgb, None, &params.to_query(), &[])?;
                std::fs::write(&path, png)
                    .map_err(|e| Error::Write(format!("cannot write {}: {e}", path.display())))
            }
            Frames::Gif(gif) => {
                let rgba = image::DynamicImage::ImageRgb8(rgb.clone()).into_rgba8();
                let delay = image::Delay::from_numer_denom_ms(1000, params.fps as u32);
                gif.encode_frame(image::Frame::from_parts(rgba, 0, 0, delay))
                    .map_err(|e| Error::Write(e.to_string()))
            }
            Frames::Apng(writer, _) => writer
                .write_image_data(rgb.as_raw())
                .map_err(|e| Error::Write(e.to_string())),
        }
    }

    /// Ends the file after `written` of the recipe's `frames`: an animation stopped early is
    /// written with the frames it has.
    pub fn finish(self, written: usize, frames: usize) -> Result<(), Error> {
        match self {
            Frames::Folder(_) => Ok(()),
            Frames::Gif(gif) => {
                drop(gif);
                Ok(())
            }
            Frames::Apng(writer, _) if written == frames => {
                writer.finish().map_err(|e| Error::Write(e.to_string()))
            }
            Frames::Apng(writer, path) => {
                // Dropping the writer ends the file; its frame count still says `frames`.
                drop(writer);
                let fail = |e: std::io::Error| {
                    Error::Write(format!("cannot write {}: {e}", path.display()))
                };
                let mut png = std::fs::read(&path).map_err(fail)?;
                image_io::set_apng_frames(&mut png, written as u32);
                std::fs::write(&path, png).map_err(fail)
            }
        }
    }
}
