"""The RWKV-4 WKV operator, three ways (PyTorch; works with torch 1.13 and 2.x).

Paper: "RWKV: Reinventing RNNs for the Transformer Era", arXiv 2305.13048 (equation numbers of v4).
For one channel, with w > 0 the decay rate (the per-step factor is e^{-w}; checkpoints store
time_decay and w = exp(time_decay)) and u the bonus of the current token (time_first):

    wkv_t = ( sum_{i<t} e^{-(t-1-i) w + k_i} v_i + e^{u + k_t} v_t )
          / ( sum_{i<t} e^{-(t-1-i) w + k_i}       + e^{u + k_t}     )          (Eq. 16, v4)

* `wkv_direct` is that formula literally (the paper's direct form); in float64 it is the test oracle.
* `wkv_scan` is the RNN form with the running maximum exponent p (Appendix D): state (a, b, p)
  with  a e^p = sum_{i<t} e^{-(t-1-i) w + k_i} v_i  and  b e^p = sum_{i<t} e^{-(t-1-i) w + k_i}.
* `wkv_chunked` is the form used for training: the sequence is cut into chunks of L tokens; inside a
  chunk the relative-decay matrix is built explicitly with max-subtraction (every exponent that is
  ever exponentiated is <= 0), and the state entering each chunk is obtained for all chunks at once
  from the per-chunk summaries with the same trick at chunk granularity. It stays finite for any
  decay and any key magnitude and is exact up to float rounding.

All three take and return the same state convention as the RNN form, so a long text can be
processed window after window with the state carried (= RNN mode).
"""

import torch

# A finite stand-in for -infinity (exp(NEG - anything finite) == 0, and NEG - NEG == 0, never NaN).
NEG = -1e38


def fresh_state(batch, channels, device=None, dtype=torch.float32):
    """The state before any token: a = b = 0, p = NEG (p starts at "-inf")."""
    z = torch.zeros(batch, channels, device=device, dtype=dtype)
    return (z, z.clone(), torch.full((batch, channels), NEG, device=device, dtype=dtype))


def wkv_direct(w, u, k, v):
    """The paper's direct form (Eq. 16, v4), no stabilisation. w, u: (C,); k, v: (B, T, C).

    Overflows (inf/nan) as soon as some k_i or u + k_t exceeds ~88.7 in float32 (~709 in float64).
    """
    B, T, C = k.shape
    out = torch.empty_like(k)
    for t in range(T):
        i = torch.arange(t, device=k.device)
        # e^{-(t-1-i) w + k_i} for i < t                                            # (B, t, C)
        wt = torch.exp(-((t - 1 - i).to(k.dtype))[None, :, None] * w + k[:, :t])
        cur = torch.exp(u + k[:, t])  # e^{u + k_t}                                  # (B, C)
        num = (wt * v[:, :t]).sum(1) + cur * v[:, t]
        den = wt.sum(1) + cur
        out[:, t] = num / den
    return out


def wkv_scan(w, u, k, v, state=None):
    """RNN form with the running maximum (Appendix D). Returns (y (B,T,C), (a, b, p))."""
    B, T, C = k.shape
    a, b, p = fresh_state(B, C, k.device, k.dtype) if state is None else state
    ys = []
    for t in range(T):
        kt, vt = k[:, t], v[:, t]
        # output: include the current token with bonus u
        q = torch.maximum(p, u + kt)
        e1, e2 = torch.exp(p - q), torch.exp(u + kt - q)
        ys.append((e1 * a + e2 * vt) / (e1 * b + e2))
        # state update: decay the past by e^{-w}, add the current token without bonus
        q = torch.maximum(p - w, kt)
        e1, e2 = torch.exp(p - w - q), torch.exp(kt - q)
        a, b, p = e1 * a + e2 * vt, e1 * b + e2, q
    return torch.stack(ys, 1), (a, b, p)


def wkv_chunked(w, u, k, v, state=None, chunk_len=16):
    """Chunked parallel WKV. w, u: (C,) float; k, v: (B, T, C); state: optional (a, b, p), each (B, C).

    Returns y (B, T, C) and the state after the last token (a, b, p). Everything is computed in the
    dtype of k (use float32 or float64). Gradients flow to w, u, k, v (and the incoming state).
    """
    B, T, C = k.shape
    dt, dev = k.dtype, k.device
    L = max(1, min(chunk_len, T))
    pad = (-T) % L
    if pad:
        # padded positions sit after the real ones: key NEG so they add nothing; the state that comes
        # out has then decayed `pad` steps too many, which is undone at the end (p + pad w).
        k = torch.cat([k, torch.full((B, pad, C), NEG, dtype=dt, device=dev)], 1)
        v = torch.cat([v, torch.zeros((B, pad, C), dtype=dt, device=dev)], 1)
    N = (T + pad) // L
    kc = k.view(B, N, L, C)
    vc = v.view(B, N, L, C)
    j = torch.arange(L, device=dev)

    # --- 1. per-chunk summaries: S_local(n) = sum_{i in chunk n} e^{-(L-1-i) w + k_i} (v_i | 1) ---
    F = kc - (L - 1 - j).to(dt)[:, None] * w  # exponents at the chunk's last position  # (B, N, L, C)
    q = F.max(2).values.detach()  # (B, N, C)
    eF = torch.exp(F - q[:, :, None])
    la = (eF * vc).sum(2)  # (B, N, C)
    lb = eF.sum(2)

    # --- 2. state entering chunk n (n = 0..N): chunks m < n contribute e^{-(n-1-m) L w} S_local(m);
    #        the incoming state contributes e^{-n L w} S(0). Same max trick, over chunks. ---
    n_ = torch.arange(N + 1, device=dev)
    m_ = torch.arange(N, device=dev)
    G = q[:, None] - ((n_[:, None] - 1 - m_[None, :]).to(dt) * L)[None, :, :, None] * w  # (B, N+1, N, C)
    valid = (m_[None, :] < n_[:, None])[None, :, :, None]  # (1, N+1, N, 1)
    G = torch.where(valid, G, torch.full_like(G, NEG))
    if state is not None:
        a0, b0, p0 = state
        G0 = p0[:, None] - (n_.to(dt) * L)[None, :, None] * w  # (B, N+1, C)
        P = torch.maximum(G.max(2).values, G0).detach()
    else:
        P = G.max(2).values.detach()  # (B, N+1, C)
    eG = torch.where(valid, torch.exp(G - P[:, :, None]), torch.zeros_like(G))
    A = (eG * la[:, None]).sum(2)  # (B, N+1, C)
    Bd = (eG * lb[:, None]).sum(2)
    if state is not None:
        e0 = torch.exp(G0 - P)
        A = A + e0 * a0[:, None]
        Bd = Bd + e0 * b0[:, None]

    # --- 3. outputs inside each chunk: tokens i <= t of the chunk, plus the incoming state ---
    # D[t, i] = -(t-1-i) w for i < t, u for i == t, NEG for i > t                      # (L, L, C)
    rel = (j[:, None] - 1 - j[None, :]).to(dt)
    D = -rel[:, :, None] * w
    D = torch.where((j[None, :] == j[:, None])[:, :, None], u.expand(L, L, C), D)
    D = torch.where((j[None, :] > j[:, None])[:, :, None], torch.full_like(D, NEG), D)
    E = kc[:, :, None] + D  # E[b, n, t, i, c] = k_i + D[t, i]                       # (B, N, L, L, C)
    Es = P[:, :N, None] - j.to(dt)[:, None] * w  # the incoming state seen from position t  # (B, N, L, C)
    M = torch.maximum(E.max(3).values, Es).detach()  # (B, N, L, C)
    eE = torch.exp(E - M[:, :, :, None])
    es = torch.exp(Es - M)
    num = (eE * vc[:, :, None]).sum(3) + es * A[:, :N, None]
    den = eE.sum(3) + es * Bd[:, :N, None]
    y = (num / den).reshape(B, N * L, C)[:, :T]

    p_out = P[:, N] + pad * w if pad else P[:, N]
    return y, (A[:, N], Bd[:, N], p_out)
