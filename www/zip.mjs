// A ZIP of PNGs (stored: PNGs are compressed already), assembled from Blobs the page already
// holds, so an animation's frames can be packed even when the engine's worker has died, and no
// frame is copied into one big buffer.

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function header(fields) {
  const bytes = new Uint8Array(fields.reduce((n, [, size]) => n + size, 0));
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const [value, size] of fields) {
    if (size === 2) view.setUint16(at, value, true);
    else view.setUint32(at, value, true);
    at += size;
  }
  return bytes;
}

/** Files (`{ name, blob }`, names in ASCII) as a ZIP Blob. */
export async function zip(files) {
  const parts = [];
  const central = [];
  let offset = 0;
  for (const { name, blob } of files) {
    const crc = crc32(new Uint8Array(await blob.arrayBuffer()));
    const nameBytes = new TextEncoder().encode(name);
    const size = blob.size;
    // Version 2.0, no flags, stored, no date (0x21 = 1980-01-01), crc, sizes, name length.
    const local = header([[0x04034b50, 4], [20, 2], [0, 2], [0, 2], [0, 2], [0x21, 2], [crc, 4], [size, 4],
      [size, 4], [nameBytes.length, 2], [0, 2]]);
    parts.push(local, nameBytes, blob);
    central.push(header([[0x02014b50, 4], [20, 2], [20, 2], [0, 2], [0, 2], [0, 2], [0x21, 2], [crc, 4],
      [size, 4], [size, 4], [nameBytes.length, 2], [0, 2], [0, 2], [0, 2], [0, 2], [0, 4], [offset, 4]]), nameBytes);
    offset += local.length + nameBytes.length + size;
  }
  const length = central.reduce((n, part) => n + part.length, 0);
  const end = header([[0x06054b50, 4], [0, 2], [0, 2], [files.length, 2], [files.length, 2], [length, 4],
    [offset, 4], [0, 2]]);
  return new Blob([...parts, ...central, end], { type: 'application/zip' });
}
