/**
 * A minimal, bounds-checked reader of the zip container PyTorch writes (APPNOTE.TXT 6.3: end of central
 * directory, zip64 end record + locator, central directory headers, local file headers).
 *
 * Only "stored" (method 0) entries are read: torch.save never compresses. A deflated entry (a file that was
 * re-zipped by another tool) is reported as CheckpointError("unsupported-compression") naming the entry;
 * re-save it with torch.save or unzip/zip -0 it. Entry data are returned as subarrays of the input (no copy).
 *
 * Integrity (issue 16): every local header must agree with its central directory record (same name bytes,
 * method, flags; CRC and sizes, in the header or in the data descriptor after the data), entries may not
 * overlap each other or the central directory, names are unique, and every entry read has its CRC-32 checked
 * (zipEntryData; the storage decoders fuse the check into their one pass, dtype.ts decodeWithCrc). A flipped
 * bit in a tensor, or an edited name or extra length that shifts an entry's data window, is an error.
 */
import { crc32 } from "./crc32.js";
import { CheckpointError, quote } from "./errors.js";

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate, ... */
  readonly method: number;
  readonly size: number;
  readonly compressedSize: number;
  /** absolute offset of the entry's data in the file */
  readonly dataOffset: number;
  /** CRC-32 of the entry's (uncompressed) data, as the central directory records it */
  readonly crc32: number;
  /** absolute offset of the entry's local header */
  readonly localOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const SIG_DESCRIPTOR = 0x08074b50;
/** general purpose flags: bit 0 encrypted, bit 3 CRC and sizes in a data descriptor after the data */
const FLAG_ENCRYPTED = 0x1;
const FLAG_DESCRIPTOR = 0x8;
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
  const entries: (ZipEntry & { end: number })[] = [];
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
    const crc = r.u32(p + 16);
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

    if (flags & FLAG_ENCRYPTED)
      throw new CheckpointError("unsupported-compression", `zip: entry ${quote(name)} is encrypted`);
    const { dataOffset, end } = checkLocalHeader(r, {
      name,
      nameBytes: bytes.subarray(p + 46, p + 46 + nameLen),
      flags,
      method,
      crc,
      size,
      compressedSize,
      localOffset,
    });
    entries.push({ name, method, size, compressedSize, dataOffset, crc32: crc, localOffset, end });
    p = next;
  }

  // names are unique; entries lie one after the other, before the central directory, never overlapping
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.name)) throw new CheckpointError("bad-header", `zip: two entries named ${quote(e.name)}`);
    seen.add(e.name);
  }
  const byOffset = [...entries].sort((x, y) => x.localOffset - y.localOffset);
  for (let i = 0; i < byOffset.length; i++) {
    const e = byOffset[i];
    const limit = i + 1 < byOffset.length ? byOffset[i + 1].localOffset : cdOffset;
    if (e.end > limit) {
      throw new CheckpointError(
        "bad-header",
        `zip: entry ${quote(e.name)} (local header at ${e.localOffset}, data and descriptor up to ${e.end}) ` +
          (i + 1 < byOffset.length
            ? `overlaps entry ${quote(byOffset[i + 1].name)} at ${limit}`
            : `runs into the central directory at ${cdOffset}`),
      );
    }
  }
  return entries.map(({ end, ...e }) => (void end, e));
}

interface CentralRecord {
  name: string;
  nameBytes: Uint8Array;
  flags: number;
  method: number;
  crc: number;
  size: number;
  compressedSize: number;
  localOffset: number;
}

/**
 * The local header of one entry, checked against its central record (APPNOTE 4.3.7, 4.3.9, 4.5.3); returns
 * where the data start and where the entry (data plus descriptor) ends.
 */
function checkLocalHeader(r: Reader, c: CentralRecord): { dataOffset: number; end: number } {
  const lo = c.localOffset;
  const what = `local header of ${quote(c.name)}`;
  r.need(lo, 30, what);
  if (r.u32(lo) !== SIG_LOCAL) {
    throw new CheckpointError(
      "bad-header",
      `zip: bad local header signature for ${quote(c.name)} at offset ${lo}`,
    );
  }
  const flags = r.u16(lo + 6);
  const method = r.u16(lo + 8);
  const crc = r.u32(lo + 14);
  let compressedSize = r.u32(lo + 18);
  let size = r.u32(lo + 22);
  const nameLen = r.u16(lo + 26);
  const extraLen = r.u16(lo + 28);
  r.need(lo + 30, nameLen + extraLen, what);
  const disagree = (field: string, local: string | number, central: string | number): CheckpointError =>
    new CheckpointError(
      "bad-header",
      `zip: ${what} disagrees with the central directory: ${field} ${local} vs ${central}`,
    );
  const localName = r.bytes.subarray(lo + 30, lo + 30 + nameLen);
  if (nameLen !== c.nameBytes.length || !localName.every((b, i) => b === c.nameBytes[i])) {
    throw disagree("name", quote(new TextDecoder().decode(localName)), quote(c.name));
  }
  if (method !== c.method) throw disagree("method", method, c.method);
  if ((flags & (FLAG_ENCRYPTED | FLAG_DESCRIPTOR)) !== (c.flags & (FLAG_ENCRYPTED | FLAG_DESCRIPTOR))) {
    throw disagree("flags", `0x${flags.toString(16)}`, `0x${c.flags.toString(16)}`);
  }
  // the extra field is a sequence of (id, length, data) records that fills it exactly
  let e = lo + 30 + nameLen;
  const eEnd = e + extraLen;
  while (e < eEnd) {
    if (e + 4 > eEnd) throw new CheckpointError("bad-header", `zip: ${what}: the extra field is malformed`);
    const id = r.u16(e);
    const len = r.u16(e + 2);
    if (e + 4 + len > eEnd)
      throw new CheckpointError("bad-header", `zip: ${what}: an extra record runs past its end`);
    if (id === 1 && len >= 16 && size === 0xffffffff && compressedSize === 0xffffffff) {
      size = r.u64(e + 4, "zip64 size");
      compressedSize = r.u64(e + 12, "zip64 compressed size");
    }
    e += 4 + len;
  }
  if (c.flags & FLAG_DESCRIPTOR) {
    // CRC and sizes follow the data; the local fields are zero (or, from some writers, the real values)
    if (crc !== 0 && crc !== c.crc) throw disagree("CRC-32", crc, c.crc);
    for (const [f, l, v] of [
      ["compressed size", compressedSize, c.compressedSize],
      ["size", size, c.size],
    ] as const) {
      if (l !== 0 && l !== 0xffffffff && l !== v) throw disagree(f, l, v);
    }
  } else {
    if (crc !== c.crc) throw disagree("CRC-32", crc, c.crc);
    if (compressedSize !== c.compressedSize)
      throw disagree("compressed size", compressedSize, c.compressedSize);
    if (size !== c.size) throw disagree("size", size, c.size);
  }
  const dataOffset = eEnd;
  r.need(dataOffset, c.compressedSize, `data of ${quote(c.name)}`);
  let end = dataOffset + c.compressedSize;
  if (c.flags & FLAG_DESCRIPTOR) {
    // data descriptor: [signature] crc-32, compressed size, size (4 bytes each, or 8 for zip64 sizes)
    r.need(end, 4, `data descriptor of ${quote(c.name)}`);
    if (r.u32(end) === SIG_DESCRIPTOR) end += 4;
    r.need(end, 12, `data descriptor of ${quote(c.name)}`);
    if (r.u32(end) !== c.crc) throw disagree("data descriptor CRC-32", r.u32(end), c.crc);
    if (r.u32(end + 4) === c.compressedSize && r.u32(end + 8) === c.size) end += 12;
    else {
      r.need(end, 20, `data descriptor of ${quote(c.name)}`);
      if (
        r.u64(end + 4, "zip64 descriptor size") !== c.compressedSize ||
        r.u64(end + 12, "zip64 descriptor size") !== c.size
      ) {
        throw disagree("data descriptor sizes", `${r.u32(end + 4)}`, `${c.compressedSize}`);
      }
      end += 20;
    }
  }
  return { dataOffset, end };
}

/** The bytes of a stored entry, as a subarray of the file (no copy), after checking their CRC-32. */
export function zipEntryData(bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  const data = storedEntryBytes(bytes, entry);
  checkCrc(entry, crc32(data));
  return data;
}

/** Throws CheckpointError("checksum-mismatch") unless `crc` is the entry's recorded CRC-32. */
export function checkCrc(entry: ZipEntry, crc: number): void {
  if (crc !== entry.crc32) {
    const hex = (x: number): string => "0x" + x.toString(16).padStart(8, "0");
    throw new CheckpointError(
      "checksum-mismatch",
      `zip: entry ${quote(entry.name)} has CRC-32 ${hex(crc)} but the directory records ${hex(entry.crc32)}: ` +
        "its bytes were changed after it was written (a corrupt or tampered file)",
    );
  }
}

/**
 * The bytes of a stored entry WITHOUT the CRC check: for callers that check it themselves in the same pass
 * (dtype.ts decodeWithCrc, then checkCrc).
 */
export function storedEntryBytes(bytes: Uint8Array, entry: ZipEntry): Uint8Array {
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
