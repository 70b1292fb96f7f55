"""Writes the input matrix the CLI and page tests feed the engine: every kind of file users drop.

Run by hand (Pillow and NumPy) from the repository root; the outputs are committed, so tests need
neither. Every good input shows the same 96x72 cat (tests/web/cat-96x72.png) upright, so a test
can check a dream of it against that photo: colours, orientation and size.

    python3 tests/inputs/make.py
"""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).parent
cat = Image.open(HERE.parent / "web" / "cat-96x72.png").convert("RGB")
w, h = cat.size
pixels = np.asarray(cat)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png(path, width, height, depth, colour, rows, level=9):
    """A PNG from raw scanlines (filter 0), for the kinds Pillow does not write."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    z = zlib.compressobj(level)
    body = b"".join(z.compress(b"\0" + row) for row in rows) + z.flush()
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", body)
        + png_chunk(b"IEND", b"")
    )


# Alpha: a left-to-right ramp, so a test sees it come back unchanged.
alpha = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))
Image.fromarray(np.dstack([pixels, alpha]), "RGBA").save(HERE / "alpha.png")

cat.convert("L").save(HERE / "gray.png")
gray16 = (np.asarray(cat.convert("L")).astype(np.uint16) * 257).astype(">u2")
write_png(HERE / "gray16.png", w, h, 16, 0, (gray16[y].tobytes() for y in range(h)))
rgba16 = (np.dstack([pixels, alpha]).astype(np.uint16) * 257).astype(">u2")
write_png(HERE / "rgba16.png", w, h, 16, 6, (rgba16[y].tobytes() for y in range(h)))

cat.quantize(256).save(HERE / "palette.png")
cat.convert("CMYK").save(HERE / "cmyk.jpg", quality=95)
cat.save(HERE / "photo.webp", quality=95)

# Animated GIF: the cat, then its negative; only the first frame is dreamed.
negative = Image.fromarray(255 - pixels)
cat.save(HERE / "animated.gif", save_all=True, append_images=[negative], duration=200, loop=0)

# EXIF orientation 6: stored turned a quarter anticlockwise, shown upright by viewers.
exif = Image.Exif()
exif[0x0112] = 6
cat.transpose(Image.Transpose.ROTATE_90).save(HERE / "rotated.jpg", quality=95, exif=exif)

# Hostile files.
(HERE / "empty.jpg").write_bytes(b"")
(HERE / "text.jpg").write_text("These are my holiday notes, not a photo.\n")
full = io.BytesIO()
Image.open(HERE.parent / "images" / "chelsea.png").convert("RGB").save(full, "JPEG", quality=90)
(HERE / "truncated.jpg").write_bytes(full.getvalue()[: len(full.getvalue()) // 3])
good = io.BytesIO()
cat.save(good, "PNG")
data = bytearray(good.getvalue())
idat = data.index(b"IDAT") + 4
data[idat + 20 : idat + 220] = bytes(range(200))  # scribbled over the compressed pixels
(HERE / "corrupt.png").write_bytes(bytes(data))
(HERE / "drawing.svg").write_text(
    '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="72">'
    '<circle cx="48" cy="36" r="30" fill="tomato"/></svg>\n'
)
Image.new("RGB", (1, 1), (200, 100, 50)).save(HERE / "one-pixel.png")

# Decompression bomb: 50000 x 50000 pixels (2.5 gigapixels) in a few hundred KB.
side = 50_000
zero_row = bytes((side + 7) // 8)
write_png(HERE / "bomb.png", side, side, 1, 0, (zero_row for _ in range(side)))
