"""The two models trained on Tiny Shakespeare: RWKV-4 and a same-size GPT baseline (PyTorch 1.13 / 2.x).

RWKV-4 follows the paper (arXiv 2305.13048, equation numbers of v4) and BlinkDL's RWKV-LM
(RWKV-v4 / RWKV-v4neo src/model.py); parameter names are exactly BlinkDL's checkpoint keys
(emb.weight, blocks.0.ln0.*, blocks.N.att.time_decay, ..., ln_out.*, head.weight).

    token shift (Eq. 11-15, v4):  r_t = W_r (mu_r x_t + (1 - mu_r) x_{t-1}), same for k, v (time mixing)
                                  and r'_t, k'_t (channel mixing), x being the LayerNorm output
    WKV (Eq. 16, v4):             see wkv.py, w = exp(time_decay) (per-step factor e^{-w}), u = time_first
    output gate (Eq. 17, v4):     o_t = W_o (sigmoid(r_t) * wkv_t)
    channel mixing (Eq. 18, v4):  o'_t = sigmoid(r'_t) * (W'_v max(k'_t, 0)^2)
    block:                        x = x + TimeMix(LN1(x)); x = x + ChannelMix(LN2(x)); block 0 first
                                  applies ln0 to the embedding; the head reads LN_out(x).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from wkv import NEG, wkv_chunked


def _autocast_off(device_type):
    # torch.autocast(enabled=False) exists in 1.13 and 2.x for "cuda" and "cpu".
    return torch.autocast(device_type=device_type, enabled=False)


class RwkvTimeMix(nn.Module):
    def __init__(self, n_embd, layer_id, n_layer, chunk_len):
        super().__init__()
        C = n_embd
        self.chunk_len = chunk_len
        # RWKV-LM v4 "fancy init" (paper Appendix E)
        ratio_0_to_1 = layer_id / (n_layer - 1) if n_layer > 1 else 0.0  # 0 to 1
        ratio_1_to_almost0 = 1.0 - layer_id / n_layer  # 1 to ~0
        h = torch.arange(C, dtype=torch.float64)
        decay_speed = -5 + 8 * (h / (C - 1)) ** (0.7 + 1.3 * ratio_0_to_1)
        self.time_decay = nn.Parameter(decay_speed.float())  # (C,)
        zigzag = torch.tensor([(i + 1) % 3 - 1 for i in range(C)], dtype=torch.float64) * 0.5
        self.time_first = nn.Parameter((torch.ones(C, dtype=torch.float64) * math.log(0.3) + zigzag).float())
        x = (torch.arange(C, dtype=torch.float64) / C).view(1, 1, C)
        self.time_mix_k = nn.Parameter(torch.pow(x, ratio_1_to_almost0).float())  # (1, 1, C)
        self.time_mix_v = nn.Parameter((torch.pow(x, ratio_1_to_almost0) + 0.3 * ratio_0_to_1).float())
        self.time_mix_r = nn.Parameter(torch.pow(x, 0.5 * ratio_1_to_almost0).float())
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.receptance = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)

    def forward(self, x, state=None):
        """x: (B, T, C), the LN1 output. state: None or dict with att_x (B, C) and wkv (a, b, p)."""
        B, T, C = x.shape
        prev = torch.zeros_like(x[:, :1]) if state is None else state["att_x"][:, None].to(x.dtype)
        xx = torch.cat([prev, x[:, :-1]], 1)  # x_{t-1}: the token shift                   # (B, T, C)
        xk = x * self.time_mix_k + xx * (1 - self.time_mix_k)  # Eq. 12 (v4)
        xv = x * self.time_mix_v + xx * (1 - self.time_mix_v)  # Eq. 13 (v4)
        xr = x * self.time_mix_r + xx * (1 - self.time_mix_r)  # Eq. 11 (v4)
        k = self.key(xk)
        v = self.value(xv)
        r = self.receptance(xr)
        with _autocast_off(x.device.type):
            w = torch.exp(self.time_decay.float())  # w = exp(time_decay) > 0
            y, wkv_state = wkv_chunked(
                w,
                self.time_first.float(),
                k.float(),
                v.float(),
                None if state is None else state["wkv"],
                self.chunk_len,
            )
        out = self.output(torch.sigmoid(r) * y)  # Eq. 17 (v4): output gate and projection
        return out, {"att_x": x[:, -1].float(), "wkv": wkv_state}


class RwkvChannelMix(nn.Module):
    def __init__(self, n_embd, ffn_size, layer_id, n_layer):
        super().__init__()
        C = n_embd
        ratio_1_to_almost0 = 1.0 - layer_id / n_layer
        x = (torch.arange(C, dtype=torch.float64) / C).view(1, 1, C)
        self.time_mix_k = nn.Parameter(torch.pow(x, ratio_1_to_almost0).float())  # (1, 1, C)
        self.time_mix_r = nn.Parameter(torch.pow(x, ratio_1_to_almost0).float())
        self.key = nn.Linear(C, ffn_size, bias=False)
        self.receptance = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(ffn_size, C, bias=False)

    def forward(self, x, prev=None):
        prev = torch.zeros_like(x[:, :1]) if prev is None else prev[:, None].to(x.dtype)
        xx = torch.cat([prev, x[:, :-1]], 1)
        xk = x * self.time_mix_k + xx * (1 - self.time_mix_k)  # Eq. 15 (v4)
        xr = x * self.time_mix_r + xx * (1 - self.time_mix_r)  # Eq. 14 (v4)
        k = torch.square(torch.relu(self.key(xk)))  # squared ReLU
        return torch.sigmoid(self.receptance(xr)) * self.value(k), x[:, -1].float()  # Eq. 18 (v4)


class RwkvBlock(nn.Module):
    def __init__(self, cfg, layer_id):
        super().__init__()
        C, eps = cfg["n_embd"], cfg["layer_norm_eps"]
        self.layer_id = layer_id
        if layer_id == 0:
            self.ln0 = nn.LayerNorm(C, eps=eps)
        self.ln1 = nn.LayerNorm(C, eps=eps)
        self.ln2 = nn.LayerNorm(C, eps=eps)
        self.att = RwkvTimeMix(C, layer_id, cfg["n_layer"], cfg.get("chunk_len", 16))
        self.ffn = RwkvChannelMix(C, cfg["ffn_size"], layer_id, cfg["n_layer"])
        self.drop = nn.Dropout(cfg.get("dropout", 0.0))

    def forward(self, x, state=None):
        if self.layer_id == 0:
            x = self.ln0(x)
        a, att_state = self.att(self.ln1(x), None if state is None else state)
        x = x + self.drop(a)
        f, ffn_x = self.ffn(self.ln2(x), None if state is None else state["ffn_x"])
        x = x + self.drop(f)
        return x, {"att_x": att_state["att_x"], "wkv": att_state["wkv"], "ffn_x": ffn_x}


class RWKV(nn.Module):
    """cfg: n_layer, n_embd, ffn_size, vocab_size, ctx_len, layer_norm_eps, dropout, chunk_len."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        C, V = cfg["n_embd"], cfg["vocab_size"]
        self.emb = nn.Embedding(V, C)
        self.blocks = nn.ModuleList([RwkvBlock(cfg, i) for i in range(cfg["n_layer"])])
        self.ln_out = nn.LayerNorm(C, eps=cfg["layer_norm_eps"])
        self.head = nn.Linear(C, V, bias=False)
        self.reset_matrices()

    @torch.no_grad()
    def reset_matrices(self):
        """RWKV-LM v4neo generate_init_weight(): the small-init embedding uniform(-1e-4, 1e-4);
        att.key/receptance/output and ffn.receptance/value zero; other matrices orthogonal with gain
        sqrt(out/in) when out > in; head orthogonal with gain 0.5. LayerNorms 1/0; time_* as above."""
        nn.init.uniform_(self.emb.weight, a=-1e-4, b=1e-4)
        for name, p in self.named_parameters():
            if p.dim() != 2 or name == "emb.weight":
                continue
            zero = any(s in name for s in (".att.key.", ".att.receptance.", ".att.output.", ".ffn.value.", ".ffn.receptance."))
            if zero:
                nn.init.zeros_(p)
                continue
            gain = math.sqrt(p.shape[0] / p.shape[1]) if p.shape[0] > p.shape[1] else 1.0
            if name == "head.weight":
                gain *= 0.5
            nn.init.orthogonal_(p, gain=gain)

    def forward(self, idx, state=None):
        """idx: (B, T) long. state: None (fresh) or list of per-layer dicts. Returns logits, new state."""
        x = self.emb(idx)
        new_state = []
        for i, block in enumerate(self.blocks):
            x, s = block(x, None if state is None else state[i])
            new_state.append(s)
        return self.head(self.ln_out(x)), new_state

    def fresh_state(self, batch, device):
        C = self.cfg["n_embd"]
        out = []
        for _ in range(self.cfg["n_layer"]):
            z = torch.zeros(batch, C, device=device)
            out.append(
                {
                    "att_x": z.clone(),
                    "ffn_x": z.clone(),
                    "wkv": (z.clone(), z.clone(), torch.full((batch, C), NEG, device=device)),
                }
            )
        return out


# ---------------------------------------------------------------------------------------------------
# RNN mode, written directly from the recurrence on a dict of BlinkDL-named float tensors
# (independent of the chunked code above; used for samples, the model card's cross-check and tests).
# ---------------------------------------------------------------------------------------------------


def _ln(x, sd, prefix, eps):
    return F.layer_norm(x, (x.shape[-1],), sd[prefix + ".weight"], sd[prefix + ".bias"], eps)


def rwkv_rnn_init_state(sd, n_layer):
    C = sd["emb.weight"].shape[1]
    z = torch.zeros(C, dtype=sd["emb.weight"].dtype)
    return [{"att_x": z, "ffn_x": z, "a": z, "b": z, "p": torch.full((C,), NEG, dtype=z.dtype)} for _ in range(n_layer)]


@torch.no_grad()
def rwkv_rnn_step(sd, n_layer, token, state, eps=1e-5):
    """One token through the RNN form. sd: BlinkDL-named tensors; state: list of {att_x, ffn_x, a, b, p}.
    Returns (logits (V,), new state). Mirrors RWKV-LM's model_run.py with named state."""
    x = sd["emb.weight"][token]
    x = _ln(x, sd, "blocks.0.ln0", eps)
    new = []
    for i in range(n_layer):
        pre = "blocks.%d." % i
        s = state[i]
        xa = _ln(x, sd, pre + "ln1", eps)
        mk, mv, mr = (sd[pre + "att.time_mix_" + c].reshape(-1) for c in "kvr")
        k = sd[pre + "att.key.weight"] @ (xa * mk + s["att_x"] * (1 - mk))
        v = sd[pre + "att.value.weight"] @ (xa * mv + s["att_x"] * (1 - mv))
        r = torch.sigmoid(sd[pre + "att.receptance.weight"] @ (xa * mr + s["att_x"] * (1 - mr)))
        w = torch.exp(sd[pre + "att.time_decay"])
        u = sd[pre + "att.time_first"]
        a, b, p = s["a"], s["b"], s["p"]
        q = torch.maximum(p, u + k)
        e1, e2 = torch.exp(p - q), torch.exp(u + k - q)
        wkv = (e1 * a + e2 * v) / (e1 * b + e2)
        q2 = torch.maximum(p - w, k)
        e1, e2 = torch.exp(p - w - q2), torch.exp(k - q2)
        a2, b2 = e1 * a + e2 * v, e1 * b + e2
        x = x + sd[pre + "att.output.weight"] @ (r * wkv)
        xf = _ln(x, sd, pre + "ln2", eps)
        fk, fr = (sd[pre + "ffn.time_mix_" + c].reshape(-1) for c in "kr")
        kk = torch.square(torch.relu(sd[pre + "ffn.key.weight"] @ (xf * fk + s["ffn_x"] * (1 - fk))))
        rr = torch.sigmoid(sd[pre + "ffn.receptance.weight"] @ (xf * fr + s["ffn_x"] * (1 - fr)))
        x = x + rr * (sd[pre + "ffn.value.weight"] @ kk)
        new.append({"att_x": xa, "ffn_x": xf, "a": a2, "b": b2, "p": q2})
    logits = sd["head.weight"] @ _ln(x, sd, "ln_out", eps)
    return logits, new


# ---------------------------------------------------------------------------------------------------
# GPT baseline: causal softmax attention, learned positions, pre-LN, GELU MLP (GPT-2 / nanoGPT style)
# Keys: wte.weight, wpe.weight, blocks.N.ln1.{weight,bias}, blocks.N.attn.qkv.{weight,bias}
# (rows: q for all heads, then k, then v; head h owns rows h*hd:(h+1)*hd of each),
# blocks.N.attn.proj.{weight,bias}, blocks.N.ln2.*, blocks.N.mlp.fc.{weight,bias},
# blocks.N.mlp.proj.{weight,bias}, ln_f.{weight,bias}, head.weight (no bias, untied).
# ---------------------------------------------------------------------------------------------------


class GptAttention(nn.Module):
    def __init__(self, C, n_head, ctx_len, dropout):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)
        self.dropout = dropout
        self.resid_drop = nn.Dropout(dropout)
        self.register_buffer("mask", torch.tril(torch.ones(ctx_len, ctx_len, dtype=torch.bool)), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, H, C // H).transpose(1, 2)  # (B, H, T, hd)
        k = k.view(B, T, H, C // H).transpose(1, 2)
        v = v.view(B, T, H, C // H).transpose(1, 2)
        p = self.dropout if self.training else 0.0
        if hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:  # torch 1.13
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))
            att = att.masked_fill(~self.mask[:T, :T], float("-inf"))
            att = F.dropout(torch.softmax(att.float(), dim=-1).to(q.dtype), p, self.training)
            y = att @ v
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.resid_drop(self.proj(y))


class GptBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg["n_embd"]
        self.ln1 = nn.LayerNorm(C, eps=cfg["layer_norm_eps"])
        self.attn = GptAttention(C, cfg["n_head"], cfg["ctx_len"], cfg.get("dropout", 0.0))
        self.ln2 = nn.LayerNorm(C, eps=cfg["layer_norm_eps"])
        self.mlp = nn.Module()
        self.mlp.fc = nn.Linear(C, cfg["ffn_size"])
        self.mlp.proj = nn.Linear(cfg["ffn_size"], C)
        self.drop = nn.Dropout(cfg.get("dropout", 0.0))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.drop(self.mlp.proj(F.gelu(self.mlp.fc(self.ln2(x)))))
        return x


class GPT(nn.Module):
    """cfg: n_layer, n_embd, n_head, ffn_size, vocab_size, ctx_len, layer_norm_eps, dropout."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = dict(cfg)
        C, V = cfg["n_embd"], cfg["vocab_size"]
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(cfg["ctx_len"], C)
        self.drop = nn.Dropout(cfg.get("dropout", 0.0))
        self.blocks = nn.ModuleList([GptBlock(cfg) for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(C, eps=cfg["layer_norm_eps"])
        self.head = nn.Linear(C, V, bias=False)
        # GPT-2 / nanoGPT init: N(0, 0.02), residual projections N(0, 0.02 / sqrt(2 n_layer)), biases 0
        for name, p in self.named_parameters():
            if name.endswith(".bias"):
                nn.init.zeros_(p)
            elif p.dim() == 2:
                std = 0.02 / math.sqrt(2 * cfg["n_layer"]) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, state=None):
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos)[None])
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x)), None


def count_params(model):
    return sum(p.numel() for p in model.parameters())
