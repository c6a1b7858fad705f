/**
 * Chapter 9's equations (TeX strings; the page renders them with Framework's `tex` and the EQ options). The
 * symbols are hover-linked (sym names below) to the figure parts tagged with the same data-sym: the subject's
 * tokens in the heatmaps ("subject") and the colour legend ("share").
 *
 *   TEX.corrupt   (9.1) the corrupted run: noise on the subject's embeddings, nu = 3 sigma (Meng et al. 2022)
 *   TEX.share     (9.2) what a heatmap cell shows: the share of the clean P[o] restoring one state brings back
 *   TEX.carry     (9.3) where a restored RWKV block output goes: block l+1's state update (Appendix D)
 */
import { sym } from "../tex.js";

const h0 = `${sym("subject", "h^{(0)}_i")}`;

export const TEX = {
  corrupt: String.raw`\begin{aligned}
${h0} &\;\leftarrow\; ${h0} + \epsilon_i \quad \text{for } ${sym("subject", "i \\in \\text{subject}")} && (9.1)\\
\epsilon_i &\sim \mathcal{N}\!\big(0,\ ${sym("nu", "\\nu")}^2 I\big),\qquad ${sym("nu", "\\nu")} = 3\,\sigma_{\text{emb}}
\end{aligned}`,
  share: String.raw`${sym("share", "R(l, t)")} \;=\; \frac{P^{*,\ \text{clean}\ h^{(l)}_t}[o]}{${sym("pclean", "P[o]")}},\qquad ${sym("pclean", "P[o]")} = \prod_{j} P\big(o_j \mid x,\ o_{<j}\big) \qquad (9.2)`,
  carry: String.raw`\begin{aligned}
k^{(l+1)}_t &= W_k \cdot \mathrm{mix}\big(\mathrm{LN}(${sym("restored", "h^{(l)}_t")}),\ \cdot\big), \quad v^{(l+1)}_t = W_v \cdot \mathrm{mix}\big(\mathrm{LN}(${sym("restored", "h^{(l)}_t")}),\ \cdot\big)\\
a^{(l+1)}_t &= e^{-w}\, a^{(l+1)}_{t-1} + e^{k^{(l+1)}_t} v^{(l+1)}_t,\qquad b^{(l+1)}_t = e^{-w}\, b^{(l+1)}_{t-1} + e^{k^{(l+1)}_t} \qquad (9.3)
\end{aligned}`,
} as const;
