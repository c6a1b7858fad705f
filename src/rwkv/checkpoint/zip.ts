/**
 * A minimal, bounds-checked reader of the zip container PyTorch writes (APPNOTE.TXT 6.3: end of central
 * directory, zip64 end record + locator, central directory headers, local file headers).
 *
 * Only "stored" (method 0) entries are read: torch.save never compresses. A deflated entry (a file that was
 * re-zipped by another tool) is reported as CheckpointError("unsupported-compression") naming the entry;
 * re-save it with torch.save or unzip/zip -0 it. Entry data are returned as subarrays of the input (no copy).
 */
import { CheckpointError, quote } from "./errors.js";

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate, ... */
  readonly method: number;
  readonly size: number;
  readonly compressedSize: number;
  /** absolute offset of the entry's data in the file */
  readonly dataOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
/** more entries than this is not a state dict we could hold anyway */
const MAX_ENTRIES = 1_000_000;

class Reader {
  readonly dv: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(off: number, len: number, what: string): void {
    if (!Number.isSafeInteger(off) || off < 0 || off + len > this.bytes.length) {
      throw new CheckpointError(
        off >= 0 && off <= this.bytes.length ? "truncated" : "offset-out-of-range",
        `zip: ${what} at offset ${off} (+${len} bytes) lies outside the ${this.bytes.length}-byte file`,
      );
    }
  }
  u16(off: number): number {
    return this.dv.getUint16(off, true);
  }
  u32(off: number): number {
    return this.dv.getUint32(off, true);
  }
  u64(off: number, what: string): number {
    const v = this.dv.getUint32(off + 4, true) * 2 ** 32 + this.dv.getUint32(off, true);
    if (!Number.isSafeInteger(v)) throw new CheckpointError("bad-header", `zip: ${what} ${v} is too large`);
    return v;
  }
}

function findEocd(r: Reader): number {
  const len = r.bytes.length;
  const stop = Math.max(0, len - 22 - 0xffff);
  for (let i = len - 22; i >= stop; i--) {
    if (r.bytes[i] === 0x50 && r.u32(i) === SIG_EOCD && i + 22 + r.u16(i + 20) <= len) return i;
  }
  throw new CheckpointError(
    "truncated",
    `zip: no end-of-central-directory record in the last ${len - stop} bytes (file truncated or not a zip)`,
  );
}

export function readZipDirectory(bytes: Uint8Array): ZipEntry[] {
  const r = new Reader(bytes);
  const eocd = findEocd(r);
  let count = r.u16(eocd + 10);
  let cdSize = r.u32(eocd + 12);
  let cdOffset = r.u32(eocd + 16);

  // zip64: a locator sits right before the classic end record
  if (eocd >= 20 && r.u32(eocd - 20) === SIG_ZIP64_LOCATOR) {
    const z64 = r.u64(eocd - 20 + 8, "zip64 end record offset");
    r.need(z64, 56, "zip64 end-of-central-directory record");
    if (r.u32(z64) !== SIG_ZIP64_EOCD) {
      throw new CheckpointError(
        "bad-header",
        `zip: no zip64 end-of-central-directory record at offset ${z64}`,
      );
    }
    count = r.u64(z64 + 32, "zip64 entry count");
    cdSize = r.u64(z64 + 40, "zip64 central directory size");
    cdOffset = r.u64(z64 + 48, "zip64 central directory offset");
  } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    throw new CheckpointError("bad-header", "zip: zip64 markers in the end record but no zip64 locator");
  }
  r.need(cdOffset, cdSize, "central directory");
  if (count > MAX_ENTRIES || count * 46 > cdSize) {
    throw new CheckpointError(
      "bad-header",
      `zip: ${count} entries cannot fit in a ${cdSize}-byte central directory`,
    );
  }

  const names = new TextDecoder("utf-8");
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  const cdEnd = cdOffset + cdSize;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdEnd)
      throw new CheckpointError("bad-header", `zip: central directory entry ${i} runs past its end`);
    if (r.u32(p) !== SIG_CENTRAL) {
      throw new CheckpointError(
        "bad-header",
        `zip: bad central directory signature for entry ${i} at offset ${p}`,
      );
    }
    const flags = r.u16(p + 8);
    const method = r.u16(p + 10);
    let compressedSize = r.u32(p + 20);
    let size = r.u32(p + 24);
    const nameLen = r.u16(p + 28);
    const extraLen = r.u16(p + 30);
    const commentLen = r.u16(p + 32);
    let localOffset = r.u32(p + 42);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdEnd)
      throw new CheckpointError("bad-header", `zip: central directory entry ${i} runs past its end`);
    const name = names.decode(bytes.subarray(p + 46, p + 46 + nameLen));

    // zip64 extended information extra field (id 1): only the fields whose classic value is saturated
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = r.u16(e);
      const len = r.u16(e + 2);
      if (e + 4 + len > eEnd)
        throw new CheckpointError("bad-header", `zip: extra field of ${quote(name)} runs past its end`);
      if (id === 1) {
        let q = e + 4;
        const take = (what: string): number => {
          if (q + 8 > e + 4 + len) {
            throw new CheckpointError(
              "bad-header",
              `zip: zip64 extra field of ${quote(name)} lacks the ${what}`,
            );
          }
          const v = r.u64(q, what);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take("uncompressed size");
        if (compressedSize === 0xffffffff) compressedSize = take("compressed size");
        if (localOffset === 0xffffffff) localOffset = take("local header offset");
      }
      e += 4 + len;
    }

    // the local header: its own name/extra lengths decide where the data start
    r.need(localOffset, 30, `local header of ${quote(name)}`);
    if (r.u32(localOffset) !== SIG_LOCAL) {
      throw new CheckpointError(
        "bad-header",
        `zip: bad local header signature for ${quote(name)} at offset ${localOffset}`,
      );
    }
    const dataOffset = localOffset + 30 + r.u16(localOffset + 26) + r.u16(localOffset + 28);
    r.need(dataOffset, compressedSize, `data of ${quote(name)}`);
    if (flags & 1)
      throw new CheckpointError("unsupported-compression", `zip: entry ${quote(name)} is encrypted`);
    entries.push({ name, method, size, compressedSize, dataOffset });
    p = next;
  }
  return entries;
}

/** The bytes of a stored entry, as a subarray of the file (no copy). */
export function zipEntryData(bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  if (entry.method !== 0) {
    throw new CheckpointError(
      "unsupported-compression",
      `zip: entry ${quote(entry.name)} is compressed (method ${entry.method}${entry.method === 8 ? ", deflate" : ""}); ` +
        "only stored entries are supported, as torch.save writes them: re-save the file with torch.save",
    );
  }
  if (entry.size !== entry.compressedSize) {
    throw new CheckpointError(
      "bad-header",
      `zip: stored entry ${quote(entry.name)} has size ${entry.size} but compressed size ${entry.compressedSize}`,
    );
  }
  return bytes.subarray(entry.dataOffset, entry.dataOffset + entry.size);
}
