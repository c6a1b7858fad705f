"""A tiny safetensors writer/reader (no dependency on the `safetensors` package).

Format (https://github.com/huggingface/safetensors, "Format"): 8 bytes little-endian unsigned N, then N
bytes of UTF-8 JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}},
then the byte buffer; offsets are relative to the buffer start, tensors are contiguous, little-endian,
row-major, and together cover the buffer exactly. The header is padded with spaces so that the buffer
starts on an 8-byte boundary (as the reference implementation does).
"""

import json
import struct

import numpy as np
import torch

_DTYPES = {torch.float16: ("F16", 2), torch.float32: ("F32", 4), torch.bfloat16: ("BF16", 2)}
_NP = {"F16": np.float16, "F32": np.float32}


def _tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def save_safetensors(tensors, path, metadata=None):
    """tensors: dict name -> torch tensor (F16, F32 or BF16). Tensors are laid out in sorted name order."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if t.dtype not in _DTYPES:
            raise ValueError("unsupported dtype %s for %s" % (t.dtype, name))
        code, size = _DTYPES[t.dtype]
        b = _tensor_bytes(t)
        assert len(b) == t.numel() * size
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((-(8 + len(h))) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """Strict reader used by the tests: returns (dict name -> float32 numpy array, metadata)."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("truncated file")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError("header length past end of file")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    buf = raw[8 + n :]
    meta = header.pop("__metadata__", {})
    out = {}
    spans = []
    for name, info in header.items():
        b, e = info["data_offsets"]
        count = int(np.prod(info["shape"])) if info["shape"] else 1
        dt = info["dtype"]
        if dt == "BF16":
            u16 = np.frombuffer(buf[b:e], dtype="<u2").astype(np.uint32) << 16
            arr = u16.view(np.float32)
        else:
            arr = np.frombuffer(buf[b:e], dtype=np.dtype(_NP[dt]).newbyteorder("<")).astype(np.float32)
        if arr.size != count:
            raise ValueError("size mismatch for %s" % name)
        out[name] = arr.reshape(info["shape"])
        spans.append((b, e))
    spans.sort()
    pos = 0
    for b, e in spans:
        if b != pos:
            raise ValueError("tensors do not tile the buffer")
        pos = e
    if pos != len(buf):
        raise ValueError("buffer has %d trailing bytes" % (len(buf) - pos))
    return out, meta
