"""Tests for the training code (CPU, torch 1.13 or 2.x).

    python3 -m pytest data/train/test_train.py      (or: python3 data/train/test_train.py)

References come from the mathematics (the paper's direct WKV formula evaluated in float64, the
parameter-count formula of the paper) or from a second implementation written independently
(the token-by-token recurrence), never from the code under test itself.
"""

import json
import math
import struct
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

from models import GPT, RWKV, count_params, rwkv_rnn_init_state, rwkv_rnn_step  # noqa: E402
from st_io import load_safetensors, save_safetensors  # noqa: E402
from wkv import NEG, wkv_chunked, wkv_direct, wkv_scan  # noqa: E402

CORPUS = HERE.parents[1].parent / "shared" / "data" / "tinyshakespeare.txt"


def _inputs(B, T, C, kscale, seed, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    # decays from very slow (e^{-e^{-6}} ~ 0.9975 per step) to very fast (e^{-e^{3}} ~ 2e-9)
    time_decay = torch.linspace(-6, 3, C, dtype=dtype)
    w = torch.exp(time_decay)
    u = torch.linspace(-3, 3, C, dtype=dtype)[torch.randperm(C, generator=g)]
    k = (torch.rand(B, T, C, generator=g, dtype=dtype) * 2 - 1) * kscale
    v = torch.randn(B, T, C, generator=g, dtype=dtype)
    return w, u, k, v


def _maxrel(a, b):
    return float(((a - b).abs() / (b.abs() + 1e-3)).max())


def test_chunked_wkv_equals_direct_float64():
    for T, L in [(1, 16), (5, 16), (16, 16), (37, 16), (64, 16), (64, 1), (50, 7), (64, 64), (40, 128)]:
        w, u, k, v = _inputs(2, T, 12, 8.0, T * 100 + L)
        ref = wkv_direct(w, u, k, v)
        y, _ = wkv_chunked(w, u, k, v, chunk_len=L)
        err = float((y - ref).abs().max())
        assert err < 1e-10, (T, L, err)


def test_scan_equals_direct_float64():
    w, u, k, v = _inputs(2, 40, 10, 8.0, 7)
    y, _ = wkv_scan(w, u, k, v)
    assert float((y - wkv_direct(w, u, k, v)).abs().max()) < 1e-10


def test_state_carried_between_calls_equals_one_pass():
    # chunked(prefix) -> state -> chunked(rest, state) must equal the direct formula over the whole sequence
    w, u, k, v = _inputs(3, 75, 8, 6.0, 11)
    ref = wkv_direct(w, u, k, v)
    for cut, L in [(32, 16), (21, 16), (1, 4), (74, 16), (40, 9)]:
        y1, st = wkv_chunked(w, u, k[:, :cut], v[:, :cut], chunk_len=L)
        y2, _ = wkv_chunked(w, u, k[:, cut:], v[:, cut:], st, chunk_len=L)
        y = torch.cat([y1, y2], 1)
        assert float((y - ref).abs().max()) < 1e-10, (cut, L)
    # the state itself: a e^p and b e^p equal the scan's (same meaning, possibly different p)
    _, (a1, b1, p1) = wkv_chunked(w, u, k[:, :37], v[:, :37], chunk_len=16)
    _, (a2, b2, p2) = wkv_scan(w, u, k[:, :37], v[:, :37])
    assert float((a1 * torch.exp(p1) - a2 * torch.exp(p2)).abs().max()) < 1e-9 * float((b2 * torch.exp(p2)).abs().max())
    assert _maxrel(b1 * torch.exp(p1), b2 * torch.exp(p2)) < 1e-12


def test_chunked_gradients_equal_direct_gradients():
    w0, u0, k0, v0 = _inputs(2, 33, 6, 4.0, 5)
    outs = []
    for fn in (lambda w, u, k, v: wkv_direct(w, u, k, v), lambda w, u, k, v: wkv_chunked(w, u, k, v, chunk_len=8)[0]):
        td = torch.log(w0).clone().requires_grad_(True)
        u, k, v = (t.clone().requires_grad_(True) for t in (u0, k0, v0))
        y = fn(torch.exp(td), u, k, v)
        (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
        outs.append([td.grad, u.grad, k.grad, v.grad])
    for ga, gb in zip(*outs):
        assert float((ga - gb).abs().max()) < 1e-9


def test_direct_form_overflows_where_stable_forms_do_not():
    # |k| up to 100: e^{100} > 3.4e38 overflows float32, but float64 evaluates the direct form exactly
    w, u, k, v = _inputs(1, 48, 16, 100.0, 3)
    ref = wkv_direct(w, u, k, v)  # float64 oracle, finite
    assert torch.isfinite(ref).all()
    direct32 = wkv_direct(w.float(), u.float(), k.float(), v.float())
    assert not torch.isfinite(direct32).all()  # the paper's direct form breaks in fp32
    y32, st = wkv_chunked(w.float(), u.float(), k.float(), v.float(), chunk_len=16)
    assert torch.isfinite(y32).all() and all(torch.isfinite(s).all() for s in st)
    # fp32 rounding of k ~ 100 alone moves e^k by ~1e-5 relative; compare as weighted averages of v
    assert float((y32.double() - ref).abs().max()) < 2e-4
    s32, _ = wkv_scan(w.float(), u.float(), k.float(), v.float())
    assert float((s32.double() - ref).abs().max()) < 2e-4


def test_chunked_wkv_float32_matches_float64_at_moderate_keys():
    w, u, k, v = _inputs(2, 256, 32, 20.0, 9)
    ref = wkv_direct(w, u, k, v)
    y, _ = wkv_chunked(w.float(), u.float(), k.float(), v.float(), chunk_len=16)
    assert float((y.double() - ref).abs().max()) < 1e-5


def _randomize(model, seed, scale=0.3):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("time_decay"):
                p.copy_(torch.linspace(-5, 2, p.numel())[torch.randperm(p.numel(), generator=g)])
            elif "time_mix" in name:
                p.copy_(torch.rand(p.shape, generator=g))
            elif name.endswith("time_first"):
                p.copy_(torch.randn(p.shape, generator=g))
            elif "ln" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif "ln" in name:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * scale * (3.0 / math.sqrt(p.shape[-1])))


def _tiny_rwkv(chunk_len=16, n_layer=3, C=24, V=17):
    return RWKV({"n_layer": n_layer, "n_embd": C, "ffn_size": 4 * C, "vocab_size": V, "ctx_len": 64, "layer_norm_eps": 1e-5, "dropout": 0.0, "chunk_len": chunk_len})


def test_rwkv_parallel_equals_rnn_recurrence():
    model = _tiny_rwkv()
    _randomize(model, 1)
    model.eval()
    ids = torch.randint(0, 17, (1, 70), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        logits, _ = model(ids)
    sd = {k: v.float() for k, v in model.state_dict().items()}
    st = rwkv_rnn_init_state(sd, 3)
    rows = []
    for t in ids[0].tolist():
        lg, st = rwkv_rnn_step(sd, 3, t, st)
        rows.append(lg)
    err = float((torch.stack(rows) - logits[0]).abs().max())
    assert err < 2e-5, err


def test_rwkv_windows_with_carried_state_equal_one_pass():
    model = _tiny_rwkv(chunk_len=8)
    _randomize(model, 4)
    model.eval()
    ids = torch.randint(0, 17, (2, 90), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        full, _ = model(ids)
        parts, state = [], None
        for s, e in [(0, 13), (13, 40), (40, 41), (41, 90)]:
            lg, state = model(ids[:, s:e], state)
            parts.append(lg)
    err = float((torch.cat(parts, 1) - full).abs().max())
    assert err < 2e-5, err


def test_rwkv_init_and_parameter_formula():
    for L, D in [(6, 192), (4, 256), (2, 32)]:
        V = 65
        m = RWKV({"n_layer": L, "n_embd": D, "ffn_size": 4 * D, "vocab_size": V, "ctx_len": 256, "layer_norm_eps": 1e-5})
        # the paper's parameter count, Sec. Table 2 footnote: 2VD + 13D^2 L + D(11L + 4)
        assert count_params(m) == 2 * V * D + 13 * D * D * L + D * (11 * L + 4)
    sd = m.state_dict()
    assert float(sd["emb.weight"].abs().max()) <= 1e-4
    assert float(sd["blocks.0.att.time_decay"][0]) == -5.0 and abs(float(sd["blocks.0.att.time_decay"][-1]) - 3.0) < 1e-6
    assert abs(float(sd["blocks.0.att.time_first"][0]) - (math.log(0.3) + 0.0)) < 1e-6  # zigzag: 0, +0.5, -0.5, ...
    assert abs(float(sd["blocks.0.att.time_first"][1]) - (math.log(0.3) + 0.5)) < 1e-6
    assert tuple(sd["blocks.1.att.time_mix_k"].shape) == (1, 1, 32)
    for k in ("att.key", "att.receptance", "att.output", "ffn.value", "ffn.receptance"):
        assert float(sd["blocks.1.%s.weight" % k].abs().max()) == 0.0
    expected = {"emb.weight", "blocks.0.ln0.weight", "blocks.0.ln0.bias", "ln_out.weight", "ln_out.bias", "head.weight"}
    for i in range(2):
        p = "blocks.%d." % i
        expected |= {p + s for s in ("ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias", "att.time_decay", "att.time_first",
                                     "att.time_mix_k", "att.time_mix_v", "att.time_mix_r", "att.key.weight", "att.value.weight",
                                     "att.receptance.weight", "att.output.weight", "ffn.time_mix_k", "ffn.time_mix_r",
                                     "ffn.key.weight", "ffn.value.weight", "ffn.receptance.weight")}
    assert set(sd) == expected


def test_gpt_is_causal_and_sized_like_rwkv():
    cfg = {"n_layer": 6, "n_embd": 192, "n_head": 6, "ffn_size": 768, "vocab_size": 65, "ctx_len": 256, "layer_norm_eps": 1e-5}
    g = GPT(cfg)
    r = RWKV(cfg)
    assert 0.85 < count_params(g) / count_params(r) < 1.15
    small = GPT(dict(cfg, n_layer=2, n_embd=32, n_head=4, ffn_size=128, ctx_len=32)).eval()
    ids = torch.randint(0, 65, (1, 20), generator=torch.Generator().manual_seed(0))
    ids2 = ids.clone()
    ids2[0, 12:] = (ids2[0, 12:] + 1) % 65
    with torch.no_grad():
        a, _ = small(ids)
        b, _ = small(ids2)
    assert float((a[0, :12] - b[0, :12]).abs().max()) == 0.0  # future tokens do not leak
    assert float((a[0, 12:] - b[0, 12:]).abs().max()) > 0.0


def test_safetensors_writer_follows_the_format():
    t = {"b.weight": torch.randn(3, 5).half(), "a": torch.arange(7, dtype=torch.float32), "c": torch.randn(2, 2).bfloat16()}
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.safetensors"
        save_safetensors(t, p, {"format": "pt"})
        raw = p.read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        assert (8 + n) % 8 == 0  # buffer aligned to 8 bytes
        header = json.loads(raw[8 : 8 + n].decode())
        assert header["__metadata__"] == {"format": "pt"}
        assert header["b.weight"]["dtype"] == "F16" and header["b.weight"]["shape"] == [3, 5]
        assert header["c"]["dtype"] == "BF16"
        assert len(raw) - 8 - n == 7 * 4 + 15 * 2 + 4 * 2
        arrs, _ = load_safetensors(p)
        for k, v in t.items():
            assert torch.equal(torch.from_numpy(arrs[k].copy()), v.float())
        try:
            import safetensors.torch  # available on the GPU machine, not on Debian

            back = safetensors.torch.load_file(str(p))
            for k, v in t.items():
                assert torch.equal(back[k], v)
        except ImportError:
            pass


def test_batch_order_is_a_prefix_property():
    # train.py draws all window starts up front with randint((steps, B)); a run with fewer steps (the GPT
    # run of --arch both gets the RWKV run's final step count) must see the same first batches
    a = torch.randint(0, 10 ** 6, (500, 64), generator=torch.Generator().manual_seed(1338))
    b = torch.randint(0, 10 ** 6, (321, 64), generator=torch.Generator().manual_seed(1338))
    assert torch.equal(a[:321], b)


def test_training_smoke_end_to_end():
    if not CORPUS.exists():
        print("SKIP test_training_smoke_end_to_end: corpus %s absent" % CORPUS)
        return
    import train

    with tempfile.TemporaryDirectory() as d:
        train.main(["--corpus", str(CORPUS), "--out", d, "--arch", "both", "--steps", "20", "--batch-size", "4",
                    "--ctx-len", "64", "--n-layer", "2", "--n-embd", "32", "--n-head", "4", "--warmup", "5",
                    "--eval-interval", "10", "--eval-windows", "4", "--log-interval", "10", "--sample-chars", "40",
                    "--rnn-check-chars", "200", "--device", "cpu", "--time-budget-s", "600"])
        for name, arch in (("rwkv4-tiny-shakespeare", "rwkv"), ("gpt-tiny-shakespeare", "gpt")):
            card = json.loads((Path(d) / (name + ".json")).read_text())
            assert card["config"]["vocab_size"] == 65 and len(card["vocabulary"]) == 65
            assert card["training"]["steps"] == 20 and card["training"]["tokens_seen"] == 20 * 4 * 64
            assert card["results"]["validation_windowed"]["predictions"] == 111540 - 1
            assert card["split"]["validation_chars"] == [1003854, 1115394]
            assert len(card["samples"]) == 3 and card["samples"][0]["text"].startswith("ROMEO:")
            weights, _ = load_safetensors(Path(d) / (name + ".safetensors"))
            assert sum(v.size for v in weights.values()) == card["parameters"]
            parity = json.loads((Path(d) / (name + ".parity.json")).read_text())
            assert len(parity["tokens"]) == 64 and len(parity["logits"]) == 64 and len(parity["logits"][0]) == 65
            if arch == "rwkv":
                res = card["results"]
                assert res["validation_continuous"]["predictions"] == 111540 - 1
                assert res["rnn_cross_check"]["abs_diff"] < 1e-5
                # the parity logits, recomputed from the written file by the independent recurrence
                sd = {k: torch.from_numpy(v.copy()) for k, v in weights.items()}
                st = rwkv_rnn_init_state(sd, 2)
                worst = 0.0
                for t, row in zip(parity["tokens"], parity["logits"]):
                    lg, st = rwkv_rnn_step(sd, 2, t, st)
                    worst = max(worst, float((lg - torch.tensor(row)).abs().max()))
                assert worst < 1e-4, worst
            else:
                assert card["results"]["validation_strided"]["predictions"] == 111540 - 1


if __name__ == "__main__":
    failed = 0
    for name, fn in sorted(globals().items()):
        if name.startswith("test_") and callable(fn):
            try:
                fn()
                print("ok  ", name)
            except Exception as e:  # noqa: BLE001
                failed += 1
                print("FAIL", name, repr(e))
    sys.exit(1 if failed else 0)
