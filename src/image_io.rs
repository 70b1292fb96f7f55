//! Photos in and out: decoding with hard limits and EXIF orientation, fitting to the maximum
//! size, the device tensor round trip, and PNG (with the recipe in a tEXt chunk) or JPEG out.

use std::io::Cursor;

use burn::tensor::{Device, Tensor, TensorData};
use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use crate::Error;

/// Largest width or height a photo may declare; beyond it decoding stops before allocating.
pub const MAX_DECODE_SIDE: u32 = 20_000;
/// Most pixels a photo may have (a 108 MP phone photo fits): the decoded photo, its RGB copy and
/// the scaled-down copy must all fit in a browser tab's memory.
pub const MAX_DECODE_PIXELS: u64 = 120_000_000;
/// Most memory the decoder may allocate for one photo.
pub const MAX_DECODE_BYTES: u64 = 1 << 30;

/// A decoded photo: RGB to dream on, and the alpha channel to put back afterwards.
#[derive(Debug, Clone)]
pub struct Photo {
    /// The colour, upright (EXIF orientation applied).
    pub rgb: RgbImage,
    /// The original alpha, if the photo had one that is not fully opaque.
    pub alpha: Option<GrayImage>,
}

impl Photo {
    /// Width and height in pixels.
    pub fn dimensions(&self) -> (u32, u32) {
        self.rgb.dimensions()
    }
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Gif => "GIF",
        _ => "image",
    }
}

fn too_large() -> Error {
    Error::Image(format!(
        "the image is too large to open: at most {MAX_DECODE_SIDE} px on a side and {} megapixels",
        MAX_DECODE_PIXELS / 1_000_000
    ))
}

/// Whether `bytes` start like an SVG drawing (XML text with an `<svg` element near the top).
fn looks_like_svg(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    head.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('<')
        && head.contains("<svg")
}

/// Whether a JPEG stops before its end-of-image marker. Decoders fill the missing part with grey
/// rather than fail; a photo cut short by a broken download should be named, not dreamed.
fn jpeg_is_truncated(bytes: &[u8]) -> bool {
    let marker = |m: u8| bytes.windows(2).position(|w| w == [0xFF, m]);
    match marker(0xDA) {
        Some(scan) => !bytes[scan..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => true,
    }
}

/// Decodes JPEG, PNG, WebP or GIF (first frame) from memory, upright, within the limits above:
/// dimensions are checked from the header before any pixel is allocated.
pub fn decode(bytes: &[u8]) -> Result<Photo, Error> {
    if bytes.is_empty() {
        return Err(Error::Image("the file is empty".into()));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Image(format!("the file could not be read: {e}")))?;
    let Some(format) = reader.format() else {
        return Err(Error::Image(if looks_like_svg(bytes) {
            "SVG drawings are not supported: export it as PNG or JPEG first".into()
        } else {
            "this is not a JPEG, PNG, WebP or GIF image".into()
        }));
    };
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif
    ) {
        return Err(Error::Image(format!(
            "{format:?} images are not supported: use JPEG, PNG, WebP or GIF"
        )));
    }
    let name = format_name(format);
    let damaged = |detail: String| {
        Error::Image(format!(
            "the {name} image is damaged or incomplete ({detail})"
        ))
    };
    if format == ImageFormat::Jpeg && jpeg_is_truncated(bytes) {
        return Err(damaged("the file ends before the picture does".into()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODE_SIDE);
    limits.max_image_height = Some(MAX_DECODE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let describe = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => too_large(),
        other => damaged(other.to_string()),
    };
    let mut decoder = reader.into_decoder().map_err(describe)?;
    let (w, h) = decoder.dimensions();
    if w as u64 * h as u64 > MAX_DECODE_PIXELS {
        return Err(too_large());
    }
    if w == 0 || h == 0 {
        return Err(damaged(format!("it declares {w}×{h} px")));
    }
    let orientation = decoder.orientation().map_err(describe)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(describe)?;
    image.apply_orientation(orientation);
    if !image.color().has_alpha() {
        return Ok(Photo {
            rgb: image.into_rgb8(),
            alpha: None,
        });
    }
    // Split without keeping a second full copy around: big photos are tight in a browser tab.
    let rgba = image.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut rgb = RgbImage::new(w, h);
    let mut alpha = GrayImage::new(w, h);
    for ((src, dst), a) in rgba.pixels().zip(rgb.pixels_mut()).zip(alpha.pixels_mut()) {
        *dst = image::Rgb([src[0], src[1], src[2]]);
        *a = image::Luma([src[3]]);
    }
    let opaque = alpha.iter().all(|&a| a == 255);
    Ok(Photo {
        rgb,
        alpha: (!opaque).then_some(alpha),
    })
}

/// Scales the photo down (never up) so its longest side is at most `max_size` and it has at
/// most `max_pixels` (what the device holds in one buffer), with a high-quality filter. Returns
/// a note for the user when it did.
pub fn fit(photo: Photo, max_size: usize, max_pixels: u64) -> (Photo, Option<String>) {
    let (w, h) = photo.dimensions();
    let longest = w.max(h) as usize;
    let pixels = w as u64 * h as u64;
    if longest <= max_size && pixels <= max_pixels {
        return (photo, None);
    }
    let by_side = max_size as f64 / longest as f64;
    let by_area = (max_pixels as f64 / pixels as f64).sqrt();
    let scale = by_side.min(by_area);
    // Floor, so the area bound holds after rounding.
    let (nw, nh) = (
        ((w as f64 * scale).floor() as u32).max(1),
        ((h as f64 * scale).floor() as u32).max(1),
    );
    let why = if by_side <= by_area {
        format!("max-size {max_size}")
    } else {
        format!(
            "the most this device holds in one buffer, {:.1} megapixels",
            max_pixels as f64 / 1e6
        )
    };
    let note = format!("the photo is {w}×{h} px; dreaming at {nw}×{nh} ({why})");
    let rgb = image::imageops::resize(&photo.rgb, nw, nh, FilterType::CatmullRom);
    let alpha = photo
        .alpha
        .map(|a| image::imageops::resize(&a, nw, nh, FilterType::CatmullRom));
    (Photo { rgb, alpha }, Some(note))
}

/// The photo as a [1, 3, H, W] tensor of RGB values on 0..255.
pub fn to_tensor(rgb: &RgbImage, device: &Device) -> Tensor<4> {
    let (w, h) = rgb.dimensions();
    let plane = (w * h) as usize;
    let mut chw = vec![0f32; 3 * plane];
    for (i, pixel) in rgb.pixels().enumerate() {
        for c in 0..3 {
            chw[c * plane + i] = pixel[c] as f32;
        }
    }
    Tensor::from_data(TensorData::new(chw, [1, 3, h as usize, w as usize]), device)
}

/// Reads a [1, 3, H, W] tensor back as an 8-bit image, rounding and clipping each value.
/// Async because a browser cannot block on the GPU; native callers use `pollster`.
pub async fn from_tensor(image: Tensor<4>) -> Result<RgbImage, Error> {
    let [_, _, h, w] = image.dims();
    let data = image
        .into_data_async()
        .await
        .map_err(|e| Error::from_device(&e.to_string()))?;
    let values = data
        .as_slice::<f32>()
        .map_err(|e| Error::Device(format!("unexpected image data: {e:?}")))?;
    let plane = h * w;
    Ok(RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let i = y as usize * w + x as usize;
        image::Rgb(std::array::from_fn(|c| {
            values[c * plane + i].round().clamp(0.0, 255.0) as u8
        }))
    }))
}

/// The dream's brightness in the photo's colours: in YCbCr (BT.601), the luma Y comes from
/// `dream` and the chroma Cb, Cr from `photo` (the same size). Going back to RGB adds the same
/// change of Y to R, G and B; where that would leave 0..255 the change is cut to what fits, so
/// the chroma stays the photo's exactly (up to rounding) and only the brightness dreams.
pub fn keep_colours(dream: &RgbImage, photo: &RgbImage) -> RgbImage {
    assert_eq!(dream.dimensions(), photo.dimensions(), "one size");
    let luma = |p: &image::Rgb<u8>| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
    RgbImage::from_fn(dream.width(), dream.height(), |x, y| {
        let (d, p) = (dream.get_pixel(x, y), photo.get_pixel(x, y));
        let lo = -(p.0.iter().copied().min().unwrap_or(0) as f32);
        let hi = 255.0 - p.0.iter().copied().max().unwrap_or(255) as f32;
        let change = (luma(d) - luma(p)).clamp(lo, hi);
        image::Rgb(p.0.map(|c| (c as f32 + change).round().clamp(0.0, 255.0) as u8))
    })
}

/// Output formats, chosen by the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Lossless, keeps alpha, carries the recipe.
    Png,
    /// Smaller; no alpha, no recipe.
    Jpeg,
}

impl OutputFormat {
    /// The format for a file name, or `None` for an extension we do not write.
    pub fn for_path(path: &str) -> Option<Self> {
        let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "png" => Some(OutputFormat::Png),
            "jpg" | "jpeg" => Some(OutputFormat::Jpeg),
            _ => None,
        }
    }
}

/// PNG bytes of `rgb` (with `alpha` put back if given), with `recipe` in a `tEXt` chunk
/// under the keyword `deepdream` so a result says how it was made; a picture dreamed on from
/// others' results lists their recipes, oldest first and one a line, under `deepdream-before`.
pub fn encode_png(
    rgb: &RgbImage,
    alpha: Option<&GrayImage>,
    recipe: &str,
    before: &[String],
) -> Result<Vec<u8>, Error> {
    let (w, h) = rgb.dimensions();
    let fail = |e: png::EncodingError| Error::Image(format!("could not encode the PNG: {e}"));
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, w, h);
    let data: Vec<u8> = match alpha.filter(|a| a.dimensions() == (w, h)) {
        Some(alpha) => {
            encoder.set_color(png::ColorType::Rgba);
            rgb.pixels()
                .zip(alpha.pixels())
                .flat_map(|(p, a)| [p[0], p[1], p[2], a[0]])
                .collect()
        }
        None => {
            encoder.set_color(png::ColorType::Rgb);
            rgb.as_raw().clone()
        }
    };
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .add_text_chunk("deepdream".to_string(), recipe.to_string())
        .map_err(fail)?;
    if !before.is_empty() {
        encoder
            .add_text_chunk("deepdream-before".to_string(), before.join("\n"))
            .map_err(fail)?;
    }
    let mut writer = encoder.write_header().map_err(fail)?;
    writer.write_image_data(&data).map_err(fail)?;
    writer.finish().map_err(fail)?;
    Ok(out)
}

/// Sets the frame count of an animated PNG (its `acTL` chunk) to `frames`: an animation
/// stopped early keeps the frames it wrote. `false` when `png` has no `acTL`.
pub fn set_apng_frames(png: &mut [u8], frames: u32) -> bool {
    let mut at = 8;
    while at + 12 <= png.len() {
        let length = u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes")) as usize;
        if at + 12 + length > png.len() {
            return false;
        }
        if &png[at + 4..at + 8] == b"acTL" && length == 8 {
            png[at + 8..at + 12].copy_from_slice(&frames.to_be_bytes());
            let crc = crc32fast::hash(&png[at + 4..at + 8 + length]);
            png[at + 8 + length..at + 12 + length].copy_from_slice(&crc.to_be_bytes());
            return true;
        }
        at += 12 + length;
    }
    false
}

/// JPEG bytes of `rgb` at quality 92.
pub fn encode_jpeg(rgb: &RgbImage) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92)
        .encode_image(rgb)
        .map_err(|e| Error::Image(format!("could not encode the JPEG: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_empty_files_are_named_not_crashed_on() {
        assert_eq!(decode(b"").unwrap_err().to_string(), "the file is empty");
        let msg = decode(b"hello, this is text").unwrap_err().to_string();
        assert!(msg.contains("not a JPEG, PNG, WebP or GIF"), "{msg}");
        let svg = br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>"#;
        assert!(decode(svg).unwrap_err().to_string().contains("SVG"));
    }

    #[test]
    fn a_jpeg_cut_short_is_named_not_filled_with_grey() {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&RgbImage::from_fn(64, 64, |x, y| {
                image::Rgb([x as u8 * 4, y as u8 * 4, 9])
            }))
            .unwrap();
        assert!(decode(&jpeg).is_ok());
        let msg = decode(&jpeg[..jpeg.len() - 40]).unwrap_err().to_string();
        assert!(msg.contains("JPEG image is damaged or incomplete"), "{msg}");
    }

    #[test]
    fn png_round_trip_keeps_alpha_and_recipe() {
        let rgb = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 40, y as u8 * 80, 7]));
        let alpha = GrayImage::from_fn(5, 3, |x, _| image::Luma([x as u8 * 60]));
        let png = encode_png(
            &rgb,
            Some(&alpha),
            "layer=inception_4c/output&steps=10",
            &[],
        )
        .unwrap();
        let photo = decode(&png).unwrap();
        assert_eq!(photo.rgb, rgb);
        assert_eq!(photo.alpha.unwrap(), alpha);
        let text = String::from_utf8_lossy(&png);
        assert!(text.contains("deepdream\0layer=inception_4c/output&steps=10"));
    }

    #[test]
    fn exif_orientation_is_applied() {
        use image::ImageEncoder;
        // A 4×2 photo whose EXIF says "rotate 90° clockwise to view" (orientation 6).
        let exif = [
            b'I', b'I', 42, 0, 8, 0, 0, 0, // little-endian TIFF, first IFD at 8
            1, 0, // one entry
            0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, // Orientation, SHORT, 1, value 6
            0, 0, 0, 0, // no next IFD
        ];
        let rgb = RgbImage::from_fn(4, 2, |x, _| {
            image::Rgb([if x == 0 { 255 } else { 0 }, 0, 0])
        });
        let mut jpeg = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 100);
        encoder.set_exif_metadata(exif.to_vec()).unwrap();
        encoder
            .write_image(rgb.as_raw(), 4, 2, image::ExtendedColorType::Rgb8)
            .unwrap();
        let photo = decode(&jpeg).unwrap();
        assert_eq!(photo.dimensions(), (2, 4));
        // The red left column is now the top row.
        assert!(photo.rgb.get_pixel(0, 0)[0] > 200 && photo.rgb.get_pixel(0, 3)[0] < 60);
    }

    #[test]
    fn webp_and_the_first_frame_of_a_gif_are_read() {
        use image::{Delay, Frame, ImageEncoder, RgbaImage};
        let red = RgbaImage::from_pixel(6, 4, image::Rgba([255, 0, 0, 255]));
        let blue = RgbaImage::from_pixel(6, 4, image::Rgba([0, 0, 255, 255]));
        let mut gif = Vec::new();
        {
            let mut encoder = image::codecs::gif::GifEncoder::new(&mut gif);
            let delay = Delay::from_numer_denom_ms(100, 1);
            encoder
                .encode_frame(Frame::from_parts(red.clone(), 0, 0, delay))
                .unwrap();
            encoder
                .encode_frame(Frame::from_parts(blue, 0, 0, delay))
                .unwrap();
        }
        let photo = decode(&gif).unwrap();
        assert_eq!(photo.dimensions(), (6, 4));
        assert_eq!(photo.rgb.get_pixel(3, 2).0, [255, 0, 0]);

        let mut webp = Vec::new();
        image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
            .write_image(red.as_raw(), 6, 4, image::ExtendedColorType::Rgba8)
            .unwrap();
        let photo = decode(&webp).unwrap();
        assert_eq!(photo.rgb.get_pixel(0, 0).0, [255, 0, 0]);
        assert!(photo.alpha.is_none(), "a fully opaque alpha is not kept");
    }

    #[test]
    fn fit_scales_down_only() {
        let photo = Photo {
            rgb: RgbImage::new(400, 100),
            alpha: None,
        };
        let (same, note) = fit(photo.clone(), 400, u64::MAX);
        assert_eq!((same.dimensions(), note), ((400, 100), None));
        let (small, note) = fit(photo.clone(), 200, u64::MAX);
        assert_eq!(small.dimensions(), (200, 50));
        assert!(note.unwrap().contains("200×50 (max-size 200)"));
        let (area, note) = fit(photo, 4096, 10_000);
        assert_eq!(area.dimensions(), (200, 50));
        assert!(note.unwrap().contains("in one buffer"));
    }
}
