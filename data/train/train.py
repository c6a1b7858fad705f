#!/usr/bin/env python3
"""Train the project's tiny character-level RWKV-4 (and a same-size GPT baseline) on Tiny Shakespeare.

Works with PyTorch 1.13 (CPU) and 2.x (CPU or CUDA, bf16 autocast on GPU). No other dependency:
weights are written as fp16 safetensors by st_io.py. See README.md in this folder.

    python3 data/train/train.py --arch both --out /tmp/train_out --time-budget-s 240
"""

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from models import GPT, RWKV, count_params, rwkv_rnn_init_state, rwkv_rnn_step  # noqa: E402
from st_io import save_safetensors  # noqa: E402

REPO_ROOT = HERE.parents[1]
CORPUS_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
CORPUS_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
DEFAULT_CORPUS = REPO_ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
SAMPLE_PROMPTS = ["ROMEO:", "JULIET:", "First Citizen:"]


def log(*a):
    print(*a, flush=True)


# ----------------------------------------------------------------------------------------------- data


def load_corpus(path):
    path = Path(path)
    if not path.exists():
        log("corpus %s absent; downloading the canonical copy from %s" % (path, CORPUS_URL))
        try:
            with urllib.request.urlopen(CORPUS_URL, timeout=60) as r:
                raw = r.read()
        except Exception as e:  # offline
            raise SystemExit("error: corpus %s not found and download failed (%s)" % (path, e))
        if hashlib.sha256(raw).hexdigest() != CORPUS_SHA256:
            raise SystemExit("error: downloaded corpus has the wrong sha256")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CORPUS_SHA256:
        raise SystemExit("error: %s has sha256 %s, expected %s" % (path, digest, CORPUS_SHA256))
    return raw.decode("utf-8")


def split_corpus(text):
    """First 90% of the characters train, last 10% validation."""
    n = len(text)
    cut = int(0.9 * n)
    return cut, text[:cut], text[cut:]


# --------------------------------------------------------------------------------------------- models


def build_model(arch, args, vocab_size):
    cfg = {
        "n_layer": args.n_layer,
        "n_embd": args.n_embd,
        "ffn_size": args.ffn_mult * args.n_embd,
        "vocab_size": vocab_size,
        "ctx_len": args.ctx_len,
        "layer_norm_eps": 1e-5,
        "dropout": args.dropout,
    }
    if arch == "rwkv":
        cfg["chunk_len"] = args.chunk_len
        return RWKV(cfg)
    cfg["n_head"] = args.n_head
    return GPT(cfg)


class L2Wrap(torch.autograd.Function):
    """RWKV-LM's logit regulariser (v4neo model.py): the loss is unchanged, and the gradient pushes the
    largest logit of each position towards 0 with factor 1e-4 / (B*T)."""

    @staticmethod
    def forward(ctx, loss, y):
        ctx.save_for_backward(y)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        factor = 1e-4 / (y.shape[0] * y.shape[1])
        maxx, ids = torch.max(y, -1, keepdim=True)
        gy = torch.zeros_like(y)
        gy.scatter_(-1, ids, maxx * factor)
        return grad_output, gy


def make_optimizer(model, arch, args, device):
    """AdamW; weight decay on the matrices of the linear layers only. For RWKV, RWKV-LM's layerwise
    learning rates: time_decay x2, time_first x3 (v4neo --layerwise_lr 1)."""
    groups = {}
    for name, p in model.named_parameters():
        decay = p.dim() == 2 and not name.startswith(("emb.", "wte.", "wpe."))
        scale = 1.0
        if arch == "rwkv" and name.endswith("att.time_decay"):
            scale = 2.0
        if arch == "rwkv" and name.endswith("att.time_first"):
            scale = 3.0
        key = (decay, scale)
        groups.setdefault(key, []).append(p)
    param_groups = [
        {"params": ps, "weight_decay": args.weight_decay if d else 0.0, "lr_scale": s} for (d, s), ps in groups.items()
    ]
    kw = dict(lr=args.lr, betas=(0.9, args.beta2), eps=1e-8)
    if device.type == "cuda":
        try:
            return torch.optim.AdamW(param_groups, fused=True, **kw)
        except (TypeError, RuntimeError):
            pass
    return torch.optim.AdamW(param_groups, **kw)


def lr_at(step, total, args):
    """Linear warmup for `warmup` steps, then cosine from lr to min_lr at `total`."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    prog = min(1.0, (step - args.warmup) / max(1, total - args.warmup))
    return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * prog))


# ---------------------------------------------------------------------------------------------- evals


def _set_tf32(on):
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = on
        torch.backends.cudnn.allow_tf32 = on


@torch.no_grad()
def nll_windows(model, data, starts, T, device, batch, amp):
    """Sum of next-char NLL (nats) over windows x = data[s:s+T] -> y = data[s+1:s+T+1], fresh state each."""
    total, count = 0.0, 0
    n = data.numel()
    full = [s for s in starts if s + T + 1 <= n]
    part = [s for s in starts if s + T + 1 > n]
    ar = torch.arange(T + 1, device=data.device)
    for i in range(0, len(full), batch):
        idx = torch.tensor(full[i : i + batch], device=data.device)[:, None] + ar
        chunk = data[idx]
        x, y = chunk[:, :-1].to(device), chunk[:, 1:].to(device)
        with _amp(device, amp):
            logits, _ = model(x)
        nll = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum")
        total += float(nll.double())
        count += y.numel()
    for s in part:
        x = data[s : n - 1][None].to(device)
        y = data[s + 1 : n][None].to(device)
        with _amp(device, amp):
            logits, _ = model(x)
        total += float(F.cross_entropy(logits.float()[0], y[0], reduction="sum").double())
        count += y.numel()
    return total, count


def _amp(device, on):
    if on and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return torch.autocast(device_type=device.type, enabled=False)


@torch.no_grad()
def eval_windowed(model, data, T, device, batch=64):
    """Non-overlapping windows of T characters, each read from a fresh state; every character after
    the first is predicted exactly once (len - 1 predictions)."""
    starts = list(range(0, data.numel() - 1, T))
    total, count = nll_windows(model, data, starts, T, device, batch, amp=False)
    return total / count, count


@torch.no_grad()
def eval_rwkv_continuous(model, data, device, window=1024):
    """RNN-equivalent evaluation: the whole text read once from a fresh state, processed in windows of
    `window` characters with the full RWKV state (token-shift inputs and WKV a, b, p) carried across
    windows, so every prediction conditions on the entire preceding text. len - 1 predictions."""
    n = data.numel()
    state = None
    total, count = 0.0, 0
    for s in range(0, n - 1, window):
        e = min(s + window, n - 1)
        x = data[s:e][None].to(device)
        y = data[s + 1 : e + 1].to(device)
        logits, state = model(x, state)
        total += float(F.cross_entropy(logits[0].float(), y, reduction="sum").double())
        count += y.numel()
    return total / count, count


@torch.no_grad()
def eval_gpt_strided(model, data, T, device, batch=64):
    """Sliding windows of T with stride T/2: each character is predicted once, with at least T/2
    characters of context (all of the available context in the first window)."""
    n = data.numel()
    h = T // 2
    total, count = 0.0, 0
    starts = [0]
    while (len(starts) + 1) * h < n - 1:
        starts.append(len(starts) * h)
    for i in range(0, len(starts), batch):
        group = starts[i : i + batch]  # full windows batched, the tail one by one
        full = [s for s in group if s + T + 1 <= n]
        part = [s for s in group if s + T + 1 > n]
        if full:
            idx = torch.tensor(full, device=data.device)[:, None] + torch.arange(T + 1, device=data.device)
            chunk = data[idx]
            logits, _ = model(chunk[:, :-1].to(device))
            nll = F.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]), chunk[:, 1:].reshape(-1).to(device), reduction="none"
            ).view(len(full), T)
            for r, s in enumerate(full):
                lo = 0 if s == 0 else h
                total += float(nll[r, lo:].double().sum())
                count += T - lo
        for s in part:
            x = data[s : n - 1][None].to(device)
            y = data[s + 1 : n].to(device)
            logits, _ = model(x)
            nll = F.cross_entropy(logits[0].float(), y, reduction="none")
            lo = 0 if s == 0 else h
            total += float(nll[lo:].double().sum())
            count += nll.numel() - lo
    return total / count, count


@torch.no_grad()
def rwkv_rnn_nll(sd, n_layer, ids):
    state = rwkv_rnn_init_state(sd, n_layer)
    total = 0.0
    for t in range(len(ids) - 1):
        logits, state = rwkv_rnn_step(sd, n_layer, ids[t], state)
        total += float(torch.log_softmax(logits.double(), -1)[ids[t + 1]])
    return -total / (len(ids) - 1)


# -------------------------------------------------------------------------------------------- samples


def _sample(logits, gen, temperature, top_p):
    probs = torch.softmax(logits.double() / temperature, -1)
    sp, si = torch.sort(probs, descending=True)
    keep = torch.cumsum(sp, 0) - sp < top_p
    sp = torch.where(keep, sp, torch.zeros_like(sp))
    sp = sp / sp.sum()
    return int(si[torch.multinomial(sp.float(), 1, generator=gen)])


@torch.no_grad()
def generate(arch, model, sd, n_layer, stoi, itos, prompt, n, seed, temperature, top_p, ctx_len):
    gen = torch.Generator().manual_seed(seed)
    ids = [stoi[c] for c in prompt]
    out = []
    if arch == "rwkv":
        state = rwkv_rnn_init_state(sd, n_layer)
        for t in ids:
            logits, state = rwkv_rnn_step(sd, n_layer, t, state)
        for _ in range(n):
            nxt = _sample(logits, gen, temperature, top_p)
            out.append(nxt)
            logits, state = rwkv_rnn_step(sd, n_layer, nxt, state)
    else:
        seq = list(ids)
        for _ in range(n):
            x = torch.tensor(seq[-ctx_len:])[None]
            logits, _ = model(x)
            nxt = _sample(logits[0, -1], gen, temperature, top_p)
            out.append(nxt)
            seq.append(nxt)
    return prompt + "".join(itos[i] for i in out)


# ------------------------------------------------------------------------------------------- training


def train_one(arch, args, name, text_info, device, steps_override=None):
    vocab, train_ids, val_ids = text_info["vocab"], text_info["train"], text_info["val"]
    stoi = {c: i for i, c in enumerate(vocab)}
    torch.manual_seed(args.seed)
    if device.type == "cuda":
        torch.cuda.manual_seed_all(args.seed)
    model = build_model(arch, args, len(vocab)).to(device)
    n_params = count_params(model)
    log("[%s] %s: %d parameters, config %s" % (name, arch, n_params, json.dumps(model.cfg)))
    opt = make_optimizer(model, arch, args, device)
    fwd = model
    if args.compile and hasattr(torch, "compile"):
        fwd = torch.compile(model)
    use_amp = device.type == "cuda" and not args.no_amp
    _set_tf32(True)

    train_dev = train_ids.to(device)
    val_dev = val_ids.to(device)
    gen = torch.Generator().manual_seed(args.seed + 1)  # identical batch sequence for both architectures
    T, B = args.ctx_len, args.batch_size
    ar = torch.arange(T + 1, device=device)
    n_train = train_dev.numel()
    # fixed windows for the loss curve (estimates, bf16 on GPU): evenly spaced over each split
    n_est = args.eval_windows
    val_starts = [int(i * (val_dev.numel() - T - 2) / max(1, n_est - 1)) for i in range(n_est)]
    train_starts = [int(i * (n_train - T - 2) / max(1, n_est - 1)) for i in range(n_est)]

    def estimate():
        model.eval()
        vt, vc = nll_windows(model, val_dev, val_starts, T, device, 64, use_amp)
        tt, tc = nll_windows(model, train_dev, train_starts, T, device, 64, use_amp)
        model.train()
        return tt / tc, vt / vc

    total_steps = steps_override if steps_override is not None else args.steps
    # every batch's window starts, drawn up front on the CPU and moved once (a per-step host-to-device
    # copy from pageable memory would synchronise the GPU every step)
    all_ix = torch.randint(0, n_train - T - 1, (total_steps, B), generator=gen).to(device)
    budget = args.time_budget_s
    curve = []
    chosen_by_budget = False
    stopped_early = False
    running = []
    t_eval0 = time.time()
    tr0, va0 = estimate()
    eval_cost = time.time() - t_eval0
    best = {"step": 0, "val": va0, "state": None}
    curve.append({"step": 0, "train_loss": round(tr0, 5), "val_loss": round(va0, 5)})
    log("[%s] step 0: train %.4f val %.4f (estimate took %.2fs)" % (name, tr0, va0, eval_cost))
    model.train()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.time()
    t_mark = None
    calib_a, calib_b = 5, 30
    step = 0
    last_loss = float("nan")
    while step < total_steps:
        lr = lr_at(step, total_steps, args)
        for g in opt.param_groups:
            g["lr"] = lr * g["lr_scale"]
        chunk = train_dev[all_ix[step][:, None] + ar]
        x, y = chunk[:, :-1], chunk[:, 1:]
        with _amp(device, use_amp):
            logits, _ = fwd(x)
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        if arch == "rwkv" and not args.no_l2wrap:
            loss_bw = L2Wrap.apply(loss, logits)
        else:
            loss_bw = loss
        opt.zero_grad(set_to_none=True)
        loss_bw.backward()
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        step += 1
        running.append(loss.detach())

        if step in (1, 2, 3, 5, 10, calib_b) or step % args.log_interval == 0:
            last_loss = float(torch.stack(running).mean())
            running = []
            if device.type == "cuda":
                torch.cuda.synchronize()
            el = time.time() - t0
            log("[%s] step %d/%d loss %.4f lr %.2e elapsed %.1fs (%.1f ms/step avg)" % (name, step, total_steps, last_loss, lr, el, 1000 * el / step))
        if step == calib_a:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t_mark = time.time()
        if step == calib_b and budget and steps_override is None:
            if device.type == "cuda":
                torch.cuda.synchronize()
            step_time = (time.time() - t_mark) / (calib_b - calib_a)
            remaining = budget - (time.time() - t0)
            per_step = step_time + eval_cost / args.eval_interval
            fit = step + int(remaining / per_step)
            log("[%s] measured %.1f ms/step; the time budget of %.0fs fits %d steps" % (name, 1000 * step_time, budget, fit))
            if fit < total_steps:
                total_steps = max(fit, args.warmup + 1)
                chosen_by_budget = True
                log("[%s] steps set to %d by --time-budget-s" % (name, total_steps))
        if step % args.eval_interval == 0 or step == total_steps:
            tr, va = estimate()
            curve.append({"step": step, "train_loss": round(tr, 5), "val_loss": round(va, 5)})
            log("[%s] step %d: train %.4f val %.4f" % (name, step, tr, va))
            if args.keep_best and va < best["val"]:
                best = {"step": step, "val": va, "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
            with open(Path(args.out) / (name + ".curve.json"), "w") as f:
                json.dump(curve, f)
        if budget and time.time() - t0 > budget * 1.15 and step < total_steps:
            log("[%s] SAFETY STOP at step %d: time budget exceeded by 15%%" % (name, step))
            stopped_early = True
            tr, va = estimate()
            curve.append({"step": step, "train_loss": round(tr, 5), "val_loss": round(va, 5)})
            break
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_time = time.time() - t0
    steps_done = step
    if running:
        last_loss = float(torch.stack(running).mean())
    log("[%s] trained %d steps in %.1fs" % (name, steps_done, train_time))
    kept_best = None
    if args.keep_best and best["state"] is not None:
        kept_best = {"step": best["step"], "val_estimate": round(best["val"], 5), "how": "early stopping: the weights of the evaluation step with the lowest validation estimate were kept (the validation split chose the step, so the validation numbers below are slightly optimistic; there is no separate test split)"}
        if best["step"] != steps_done:
            model.load_state_dict(best["state"])
        log("[%s] kept the weights of step %d (validation estimate %.4f)" % (name, best["step"], best["val"]))

    # ---------------- export: fp16 weights; every number below uses them (upcast to fp32) -------------
    model.eval()
    _set_tf32(False)
    sd16 = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for k, p in model.state_dict().items():
            p.copy_(sd16[k].float().to(p.device))
    out = Path(args.out)
    st_path = out / (name + ".safetensors")
    save_safetensors(sd16, st_path, {"format": "pt", "arch": "rwkv4" if arch == "rwkv" else "gpt", "card": name + ".json"})

    t_eval = time.time()
    val_w, n_w = eval_windowed(model, val_dev, T, device)
    train_w, n_tw = nll_windows(model, train_dev, train_starts, T, device, 64, amp=False)
    train_w = train_w / n_tw
    results = {
        "final_train_loss_running": round(last_loss, 5),
        "train_loss_eval": {
            "nats_per_char": round(train_w, 5),
            "bits_per_char": round(train_w / math.log(2), 5),
            "chars": n_tw,
            "how": "%d fixed windows of %d characters evenly spaced over the training split, fresh state, fp16 weights in fp32, eval mode" % (len(train_starts), T),
        },
        "validation_windowed": {
            "nats_per_char": round(val_w, 5),
            "bits_per_char": round(val_w / math.log(2), 5),
            "predictions": n_w,
            "how": "the whole validation split cut into consecutive non-overlapping windows of ctx_len=%d characters, each read from a fresh state (no context across windows); fp16-rounded weights upcast to fp32, computed in fp32 (TF32 off) on %s, eval mode; every character after the first predicted once" % (T, device.type),
        },
    }
    val_ids_list = val_ids.tolist()
    sd32_cpu = {k: v.float() for k, v in sd16.items()}
    if arch == "rwkv":
        val_c, n_c = eval_rwkv_continuous(model, val_dev, device, args.eval_window)
        results["validation_continuous"] = {
            "nats_per_char": round(val_c, 5),
            "bits_per_char": round(val_c / math.log(2), 5),
            "predictions": n_c,
            "how": "RNN-equivalent: the whole validation split read once from a fresh state, in windows of %d characters with the full state (token-shift inputs, WKV a/b/p) carried across windows, so each character is predicted from the entire preceding validation text; fp16-rounded weights upcast to fp32, fp32 on %s, eval mode. This is what `npm run rwkv -- eval` measures." % (args.eval_window, device.type),
        }
        nchk = min(args.rnn_check_chars, len(val_ids_list))
        rnn = rwkv_rnn_nll(sd32_cpu, args.n_layer, val_ids_list[:nchk])
        par, _ = eval_rwkv_continuous(model, val_dev[:nchk], device, args.eval_window)
        results["rnn_cross_check"] = {
            "chars": nchk,
            "nats_rnn_step_cpu": round(rnn, 7),
            "nats_parallel_chunked": round(par, 7),
            "abs_diff": abs(rnn - par),
            "how": "first %d validation characters: token-by-token RNN recurrence (models.rwkv_rnn_step, fp32 CPU) vs the chunked parallel form with state carried" % nchk,
        }
        log("[%s] validation: windowed %.4f, continuous %.4f nats/char (RNN check diff %.2e)" % (name, val_w, val_c, abs(rnn - par)))
    else:
        val_s, n_s = eval_gpt_strided(model, val_dev, T, device)
        results["validation_strided"] = {
            "nats_per_char": round(val_s, 5),
            "bits_per_char": round(val_s / math.log(2), 5),
            "predictions": n_s,
            "how": "sliding windows of %d characters with stride %d: each character predicted once with at least %d characters of context; fp16-rounded weights in fp32 on %s" % (T, T // 2, T // 2, device.type),
        }
        log("[%s] validation: windowed %.4f, strided %.4f nats/char" % (name, val_w, val_s))
    eval_time = time.time() - t_eval

    # ---------------- parity fixture: CPU, fp32, eval mode, fresh state ---------------------------------
    model_cpu = build_model(arch, args, len(vocab))
    model_cpu.load_state_dict(sd32_cpu)
    model_cpu.eval()
    plen = args.parity_len if arch == "rwkv" else min(args.parity_len, T)  # GPT: positions < ctx_len
    snippet = text_info["val_text"][:plen]
    ids = [stoi[c] for c in snippet]
    with torch.no_grad():
        logits_par, _ = model_cpu(torch.tensor(ids)[None])
    logits_par = logits_par[0].float()
    parity = {
        "model": name + ".safetensors",
        "snippet": snippet,
        "snippet_source": "the first %d characters of the validation split (corpus characters %d..%d)" % (plen, text_info["cut"], text_info["cut"] + plen),
        "tokens": ids,
        "logits": [[float(x) for x in row] for row in logits_par],
        "how": "fp16 weights of the .safetensors upcast to fp32; full-sequence forward from a fresh state in fp32 on CPU, eval mode (no dropout); logits[t] predicts tokens[t+1]",
        "torch_version": torch.__version__,
    }
    if arch == "rwkv":
        st = rwkv_rnn_init_state(sd32_cpu, args.n_layer)
        rows = []
        for t in ids:
            lg, st = rwkv_rnn_step(sd32_cpu, args.n_layer, t, st)
            rows.append(lg)
        parity["max_abs_diff_rnn_vs_parallel"] = float((torch.stack(rows) - logits_par).abs().max())
    with open(out / (name + ".parity.json"), "w") as f:
        json.dump(parity, f)

    # ---------------- samples --------------------------------------------------------------------------
    samples = []
    for i, prompt in enumerate(SAMPLE_PROMPTS):
        txt = generate(arch, model_cpu, sd32_cpu, args.n_layer, stoi, vocab, prompt, args.sample_chars, args.seed + 100 + i, args.temperature, args.top_p, T)
        samples.append({"prompt": prompt, "text": txt, "seed": args.seed + 100 + i, "temperature": args.temperature, "top_p": args.top_p, "new_chars": args.sample_chars})
        log("[%s] sample %r:\n%s\n" % (name, prompt, txt))

    # ---------------- model card -------------------------------------------------------------------------
    cfg = dict(model.cfg)
    card_cfg = {k: cfg[k] for k in ("n_layer", "n_embd", "ffn_size", "vocab_size", "ctx_len", "layer_norm_eps")}
    if arch == "gpt":
        card_cfg["n_head"] = cfg["n_head"]
    card = {
        "name": name,
        "arch": "RWKV-4" if arch == "rwkv" else "GPT (causal softmax attention, learned positions, pre-LN, GELU MLP)",
        "weights": {
            "file": name + ".safetensors",
            "dtype": "F16",
            "bytes": st_path.stat().st_size,
            "key_names": "BlinkDL RWKV-LM checkpoint keys (emb.weight, blocks.0.ln0.*, blocks.N.ln1/ln2, blocks.N.att.{time_decay,time_first,time_mix_k,time_mix_v,time_mix_r,key,value,receptance,output}, blocks.N.ffn.{time_mix_k,time_mix_r,key,value,receptance}, ln_out.*, head.weight); time_decay is stored raw (w = exp(time_decay))"
            if arch == "rwkv"
            else "wte.weight, wpe.weight, blocks.N.ln1.*, blocks.N.attn.qkv.{weight,bias} (rows q|k|v, head h = rows h*hd..(h+1)*hd of each), blocks.N.attn.proj.*, blocks.N.ln2.*, blocks.N.mlp.fc.*, blocks.N.mlp.proj.*, ln_f.*, head.weight (no bias, not tied)",
        },
        "config": card_cfg,
        "vocabulary": "".join(vocab),
        "vocabulary_note": "character-level: token id i is vocabulary[i]; the sorted unique characters of the whole corpus",
        "corpus": {
            "name": "Tiny Shakespeare",
            "sha256": CORPUS_SHA256,
            "chars": text_info["n"],
            "source": CORPUS_URL,
            "licence": "public domain",
        },
        "split": {
            "rule": "first 90% of the characters train, last 10% validation (cut = int(0.9 * len))",
            "train_chars": [0, text_info["cut"]],
            "validation_chars": [text_info["cut"], text_info["n"]],
        },
        "training": {
            "steps": steps_done,
            "steps_requested": args.steps if steps_override is None else steps_override,
            "steps_chosen_by_time_budget": chosen_by_budget,
            "time_budget_s": budget,
            "stopped_early_by_safety_stop": stopped_early,
            "kept_best": kept_best,
            "batch_size": B,
            "ctx_len": T,
            "tokens_seen": steps_done * B * T,
            "seed": args.seed,
            "batches": "uniformly random windows of ctx_len+1 characters of the training split (torch.Generator seeded with seed+1; identical sequence for both architectures)",
            "optimizer": "AdamW betas (0.9, %g) eps 1e-8, weight decay %g on linear-layer matrices only%s" % (args.beta2, args.weight_decay, "; RWKV-LM layerwise lr: time_decay x2, time_first x3" if arch == "rwkv" else ""),
            "lr": {"peak": args.lr, "min": args.min_lr, "warmup_steps": args.warmup, "schedule": "linear warmup then cosine to min at the last step"},
            "dropout": args.dropout,
            "grad_clip": args.grad_clip,
            "l2wrap": arch == "rwkv" and not args.no_l2wrap,
            "precision": "bf16 autocast (WKV in fp32)" if use_amp and arch == "rwkv" else ("bf16 autocast" if use_amp else "fp32"),
            "wkv_training_form": "chunked parallel form (chunk %d), data/train/wkv.py" % args.chunk_len if arch == "rwkv" else None,
            "training_time_s": round(train_time, 1),
            "evaluation_time_s": round(eval_time, 1),
            "hardware": torch.cuda.get_device_name(0) if device.type == "cuda" else (platform.processor() or platform.machine()),
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            "command": " ".join([Path(sys.executable).name] + sys.argv),
        },
        "parameters": n_params,
        "results": results,
        "licence": {"weights": "Apache-2.0", "corpus": "public domain"},
        "loss_curve": {"how": "estimates during training: mean NLL (nats/char) over %d fixed windows of each split, eval mode%s" % (n_est, ", bf16 autocast" if use_amp else ""), "points": curve},
        "samples": samples,
        "parity_fixture": name + ".parity.json",
    }
    with open(out / (name + ".json"), "w") as f:
        json.dump(card, f, indent=1)
    log("[%s] wrote %s (%d bytes), %s.json, %s.parity.json" % (name, st_path, st_path.stat().st_size, name, name))
    return steps_done


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    ap.add_argument("--out", help="output folder")
    ap.add_argument("--arch", choices=["rwkv", "gpt", "both"], default="rwkv")
    ap.add_argument("--name-rwkv", default="rwkv4-tiny-shakespeare")
    ap.add_argument("--name-gpt", default="gpt-tiny-shakespeare")
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--ctx-len", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    ap.add_argument("--n-layer", type=int, default=6)
    ap.add_argument("--n-embd", type=int, default=192)
    ap.add_argument("--ffn-mult", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=6, help="GPT only")
    ap.add_argument("--chunk-len", type=int, default=16, help="RWKV chunked WKV chunk length")
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--min-lr", type=float, default=1.5e-4)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--beta2", type=float, default=0.99)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--no-l2wrap", action="store_true")
    ap.add_argument("--keep-best", action="store_true", help="at the end, restore the weights of the evaluation step with the lowest validation estimate (early stopping)")
    ap.add_argument("--no-amp", action="store_true", help="no bf16 autocast on GPU")
    ap.add_argument("--compile", action="store_true", help="torch.compile (2.x; untested here)")
    ap.add_argument("--time-budget-s", type=float, default=None, help="after step 30, cut the step count so training fits this many seconds (then a safety stop at +15%%)")
    ap.add_argument("--log-interval", type=int, default=100)
    ap.add_argument("--eval-interval", type=int, default=250)
    ap.add_argument("--eval-windows", type=int, default=64)
    ap.add_argument("--eval-window", type=int, default=1024, help="window length of the continuous RWKV evaluation")
    ap.add_argument("--rnn-check-chars", type=int, default=1500)
    ap.add_argument("--parity-len", type=int, default=64)
    ap.add_argument("--sample-chars", type=int, default=400)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--dump-val", metavar="PATH", help="write the validation split to PATH and exit")
    args = ap.parse_args(argv)

    text = load_corpus(args.corpus)
    cut, train_text, val_text = split_corpus(text)
    if args.dump_val:
        Path(args.dump_val).write_text(val_text, encoding="utf-8")
        log("wrote %d validation characters to %s" % (len(val_text), args.dump_val))
        return
    if not args.out:
        ap.error("--out is required")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    vocab = sorted(set(text))
    stoi = {c: i for i, c in enumerate(vocab)}
    enc = lambda s: torch.tensor([stoi[c] for c in s], dtype=torch.long)  # noqa: E731
    info = {"vocab": vocab, "train": enc(train_text), "val": enc(val_text), "val_text": val_text, "cut": cut, "n": len(text)}
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    log("torch %s on %s%s; corpus %d chars (train %d, validation %d), vocabulary %d" % (
        torch.__version__, device, " (%s)" % torch.cuda.get_device_name(0) if device.type == "cuda" else "", len(text), cut, len(text) - cut, len(vocab)))
    t_all = time.time()
    if args.arch in ("rwkv", "both"):
        steps = train_one("rwkv", args, args.name_rwkv, info, device)
    if args.arch == "gpt":
        train_one("gpt", args, args.name_gpt, info, device)
    if args.arch == "both":
        log("GPT baseline: same data order, batch and %d steps as the RWKV run" % steps)
        train_one("gpt", args, args.name_gpt, info, device, steps_override=steps)
    log("all done in %.1fs" % (time.time() - t_all))


if __name__ == "__main__":
    main()
