#!/usr/bin/python3
"""Golden values from PyTorch for sweep's kernels and model (as karpathy/llm.c does).

Run (Debian's python3-torch; torch 1.13 was used for the committed files):

    /usr/bin/python3 tools/torch_golden.py tests/golden [--new-models]

It rewrites tests/golden/manifest.txt and one tests/golden/<case>.bin.gz per
case; `build/test_unit golden` (tests/unit/test_golden.c) then checks our C
kernels, model and optimizers against them, so CI needs no torch. The output
is deterministic: the same torch gives the same bytes.

Inputs and weights are not stored: they come from a formula that Python and
C evaluate identically in float32 (integer hash, then one float division and
one float multiplication), given by `gen` lines of the manifest:

    h(i, salt)  = 32-bit hash of the flat index i (torch layout) and salt:
                  h = i*0x9E3779B1 + salt*0x85EBCA77 + 0x165667B1   (mod 2^32)
                  h ^= h >> 15; h *= 0x2C1B3C6D; h ^= h >> 12;
                  h *= 0x297A2D39; h ^= h >> 15                    (mod 2^32)
    signed ARG: (float)(2*(h % 1000) - 999) / 1000.0f * ARG   odd multiples
                of ARG/1000 in (-ARG, ARG): never exactly 0 (no kink ties)
    unit:       (float)(h % 256) / 255.0f                  pixels in [0, 1]
    label ARG:  h % ARG                                     class labels
    const ARG:  ARG

Manifest (text, one directive per line, '#' comments):

    case NAME FILE               starts a case; FILE holds its data tensors
    param KEY VALUE              a scalar setting (C99 hex float or integer)
    gen NAME DIMS KIND SALT ARG  a generated input (DIMS like 3,2,7,7)
    data NAME DIMS [stride=S]    the next tensor in FILE: float32
                                 little-endian, gzip-compressed, torch layout
                                 (B,C,H,W) / (B,features); with stride=S only
                                 the elements of flat index 0, S, 2S, ... are
                                 stored (ceil(N/S) floats)
    end                          ends the case

Cases:
  gen_check                 the first values of each formula kind (checks
                            that C's generator is Python's)
  conv_ic2, conv_ic1,       conv2d 3x3 valid: out, and for upstream gradient
  conv_rect                 g (gen): dx, dweight (OC, IC*9), dbias
  maxpool, maxpool_rect,    max_pool2d 2x2 (7x7 -> 3x3; 6x9 -> 3x4; 6x6 with
  maxpool_ties              inputs in {0,1,2}, where torch's first maximum
                            in row-major order wins): out, dx
  dense                     linear 12 -> 5: out, dx, dweight, dbias
  relu, elu, elu07,         activations on (3,4,5,5): out, dx
  leaky, prelu, prelu_var   (+ dalpha, per channel, for prelu)
  selu, gelu, silu, mish,   the smooth activations (F.selu, F.gelu exact erf
  tanh, softplus            form, F.silu, F.mish, torch.tanh, F.softplus beta 1)
                            on (3,4,5,5) inputs in (-2, 2) as for elu, and
  <act>_wide                in (-12, 12): out, dx (checked against
                            nn/act_smooth.h's kernels, no act param)
  xent                      F.cross_entropy (mean) on (5,10) logits: loss,
                            dlogits, correct (argmax hits)
  model_relu, model_elu,    the blog's CNN (conv 32, conv 64, dense 256,
  model_leaky_relu,         1x28x28, 10 classes), dropout 0, B=8 formula
  model_prelu               images/labels, formula weights (uniform, scale
                            sqrt(3/fan_in), i.e. variance 1/fan_in; biases
                            scale 0.1; prelu alphas 0.25): logits, mean
                            loss, correct, the gradient of every parameter
                            (grad.NAME), the parameters after one Adam step
                            (adam.NAME; lr 1e-3, betas 0.9/0.999, eps 1e-7)
                            and after one SGD step (sgd.NAME; lr 0.01).
                            To keep tests/golden small, dense1.weight
                            (256x1600) is stored with stride 41 (9991 of its
                            409600 entries) in adam.* and sgd.* for every
                            activation and in grad.* for all but relu,
                            whose gradient is stored in full.

--new-models adds model_selu ... model_softplus (same model and formula
weights; their `param act` is ACT_KIND below, which must match act_kind in
include/nn/activation.h).

Model cases choose their salt (searched from 1 up, recorded as `param salt`)
so that no result depends on a coin toss of float rounding: in a float64
copy of the forward pass, every pre-activation that receives gradient is
farther from 0 (the kink), every max-pool window's winner beats the
runner-up, and every sample's top logit beats the second, by more than 5
times the largest float32-vs-float64 error of that layer (margin_ratio()).
Otherwise two correct float32 implementations could disagree on a winner or
a kink, which moves a whole term of a gradient.
"""
import gzip
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

M32 = np.uint64(0xFFFFFFFF)


# --------------------------------------------------------------------------
# The formula (mirrored by golden_gen() in tests/unit/test_golden.c)

def hash32(n, salt):
    i = np.arange(n, dtype=np.uint64)
    h = (i * np.uint64(0x9E3779B1) + np.uint64((salt * 0x85EBCA77) & 0xFFFFFFFF)
         + np.uint64(0x165667B1)) & M32
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x2C1B3C6D)) & M32
    h ^= h >> np.uint64(12)
    h = (h * np.uint64(0x297A2D39)) & M32
    h ^= h >> np.uint64(15)
    return h


def gen_values(n, kind, salt, arg):
    h = hash32(n, salt)
    if kind == "signed":
        k = (np.uint64(2) * (h % np.uint64(1000))).astype(np.int64) - 999
        return k.astype(np.float32) / np.float32(1000.0) * np.float32(arg)
    if kind == "unit":
        return (h % np.uint64(256)).astype(np.float32) / np.float32(255.0)
    if kind == "label":
        return (h % np.uint64(int(arg))).astype(np.int64)
    if kind == "const":
        return np.full(n, np.float32(arg), dtype=np.float32)
    raise ValueError(kind)


def f32(x):
    """A Python float rounded to float32, as a Python float."""
    return float(np.float32(x))


def hexf(x):
    return float(x).hex()


# --------------------------------------------------------------------------
# Writing cases

class Case:
    def __init__(self, name):
        self.name = name
        self.lines = []
        self.blobs = []

    def param(self, key, value):
        v = str(value) if isinstance(value, (int, np.integer)) else hexf(value)
        self.lines.append(f"param {key} {v}")

    def gen(self, name, dims, kind, salt, arg=0.0):
        n = int(np.prod(dims))
        v = gen_values(n, kind, salt, arg).reshape(dims)
        a = str(int(arg)) if kind == "label" else hexf(arg)
        self.lines.append(f"gen {name} {','.join(map(str, dims))} {kind} {salt} {a}")
        return torch.from_numpy(v.copy())

    def data(self, name, t, stride=1):
        t = t.detach().to(torch.float32).contiguous()
        dims = list(t.shape) if t.dim() > 0 else [1]
        flat = t.reshape(-1).numpy()[::stride]
        line = f"data {name} {','.join(map(str, dims))}"
        if stride != 1:
            line += f" stride={stride}"
        self.lines.append(line)
        self.blobs.append(flat.astype("<f4").tobytes())


def write_all(outdir, cases):
    os.makedirs(outdir, exist_ok=True)
    man = ["# sweep golden values: written by tools/torch_golden.py, do not edit.",
           f"# torch {torch.__version__}; format described at the top of the script."]
    for c in cases:
        fname = f"{c.name}.bin.gz"
        with open(os.path.join(outdir, fname), "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9,
                               mtime=0) as gz:
                for b in c.blobs:
                    gz.write(b)
        man.append(f"case {c.name} {fname}")
        man.extend(c.lines)
        man.append("end")
    with open(os.path.join(outdir, "manifest.txt"), "w") as f:
        f.write("\n".join(man) + "\n")


# --------------------------------------------------------------------------
# Per-layer cases

def case_gen_check():
    c = Case("gen_check")
    n = 64
    c.data("signed", c.gen("signed_in", [n], "signed", 12345, f32(0.3)))
    c.data("unit", c.gen("unit_in", [n], "unit", 777))
    c.data("label", c.gen("label_in", [n], "label", 4242, 10).to(torch.float32))
    return c


def case_conv(name, B, IC, H, W, OC, salt):
    c = Case(name)
    for k, v in (("B", B), ("IC", IC), ("H", H), ("W", W), ("OC", OC)):
        c.param(k, v)
    x = c.gen("x", [B, IC, H, W], "signed", salt + 1, 1.0).requires_grad_()
    w = c.gen("weight", [OC, IC * 9], "signed", salt + 2,
              f32(math.sqrt(3.0 / (IC * 9)))).requires_grad_()
    b = c.gen("bias", [OC], "signed", salt + 3, f32(0.5)).requires_grad_()
    g = c.gen("g", [B, OC, H - 2, W - 2], "signed", salt + 4, 1.0)
    out = F.conv2d(x, w.view(OC, IC, 3, 3), b)
    out.backward(g)
    c.data("out", out)
    c.data("dx", x.grad)
    c.data("dweight", w.grad)
    c.data("dbias", b.grad)
    return c


def case_maxpool(name, B, C, H, W, salt, ties=False):
    c = Case(name)
    for k, v in (("B", B), ("C", C), ("H", H), ("W", W)):
        c.param(k, v)
    if ties:   # values in {0, 1, 2}: many tied windows (the first max wins)
        x = c.gen("x", [B, C, H, W], "label", salt + 1, 3).to(torch.float32).requires_grad_()
    else:
        x = c.gen("x", [B, C, H, W], "signed", salt + 1, 1.0).requires_grad_()
    g = c.gen("g", [B, C, H // 2, W // 2], "signed", salt + 2, 1.0)
    out = F.max_pool2d(x, 2)
    out.backward(g)
    c.data("out", out)
    c.data("dx", x.grad)
    return c


def case_dense(salt):
    B, IN, OUT = 3, 12, 5
    c = Case("dense")
    for k, v in (("B", B), ("IN", IN), ("OUT", OUT)):
        c.param(k, v)
    x = c.gen("x", [B, IN], "signed", salt + 1, 1.0).requires_grad_()
    w = c.gen("weight", [OUT, IN], "signed", salt + 2, f32(math.sqrt(3.0 / IN))).requires_grad_()
    b = c.gen("bias", [OUT], "signed", salt + 3, f32(0.5)).requires_grad_()
    g = c.gen("g", [B, OUT], "signed", salt + 4, 1.0)
    out = F.linear(x, w, b)
    out.backward(g)
    c.data("out", out)
    c.data("dx", x.grad)
    c.data("dweight", w.grad)
    c.data("dbias", b.grad)
    return c


def case_act(name, act, alpha, salt, alphas=None):
    B, C, H, W = 3, 4, 5, 5
    c = Case(name)
    c.param("act", ACT_KIND[act])
    c.param("alpha", f32(alpha))
    for k, v in (("B", B), ("C", C), ("H", H), ("W", W)):
        c.param(k, v)
    x = c.gen("x", [B, C, H, W], "signed", salt + 1, 2.0).requires_grad_()
    g = c.gen("g", [B, C, H, W], "signed", salt + 2, 1.0)
    a = None
    if act == "relu":
        out = F.relu(x)
    elif act == "elu":
        out = F.elu(x, alpha=alpha)
    elif act == "leaky_relu":
        out = F.leaky_relu(x, negative_slope=alpha)
    else:
        if alphas is None:
            a = c.gen("prelu", [C], "const", 0, f32(alpha))
        else:
            a = c.gen("prelu", [C], "signed", salt + 3, alphas)
        a.requires_grad_()
        out = F.prelu(x, a)
    out.backward(g)
    c.data("out", out)
    c.data("dx", x.grad)
    if a is not None:
        c.data("dalpha", a.grad)
    return c


def case_smooth(name, act, salt, scale):
    """A smooth activation on (3,4,5,5) inputs in (-scale, scale)."""
    B, C, H, W = 3, 4, 5, 5
    c = Case(name)
    for k, v in (("B", B), ("C", C), ("H", H), ("W", W)):
        c.param(k, v)
    x = c.gen("x", [B, C, H, W], "signed", salt + 1, f32(scale)).requires_grad_()
    g = c.gen("g", [B, C, H, W], "signed", salt + 2, 1.0)
    out = SMOOTH[act](x)
    out.backward(g)
    c.data("out", out)
    c.data("dx", x.grad)
    return c


def case_xent(salt):
    B, K = 5, 10
    c = Case("xent")
    c.param("B", B)
    c.param("K", K)
    logits = c.gen("logits", [B, K], "signed", salt + 1, 3.0).requires_grad_()
    labels = torch.from_numpy(gen_values(B, "label", salt + 2, K))
    c.lines.append(f"gen labels {B} label {salt + 2} {K}")
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    c.param("correct", int((logits.argmax(1) == labels).sum()))
    c.data("loss", loss)
    c.data("dlogits", logits.grad)
    return c


# --------------------------------------------------------------------------
# The whole model

# act_kind numbers in include/nn/activation.h (the smooth ones as the
# activation table is expected to number them; check when it lands).
ACT_KIND = {"relu": 0, "elu": 1, "leaky_relu": 2, "prelu": 3, "selu": 4, "gelu": 5,
            "silu": 6, "mish": 7, "tanh": 8, "softplus": 9}

# The smooth activations, as PyTorch's defaults (gelu: exact erf form;
# softplus: beta 1, threshold 20).
SMOOTH = {"selu": F.selu, "gelu": F.gelu, "silu": F.silu, "mish": F.mish,
          "tanh": torch.tanh, "softplus": F.softplus}

MODEL_B = 8
DENSE1_STRIDE = 41


def model_tensors(act):
    """(name, torch shape, fan_in) in sweep's model_tensor_at() order."""
    t = []
    for k, (ic, oc) in enumerate(((1, 32), (32, 64)), start=1):
        t.append((f"conv{k}.weight", (oc, ic, 3, 3), ic * 9))
        t.append((f"conv{k}.bias", (oc,), 0))
        if act == "prelu":
            t.append((f"conv{k}.prelu", (oc,), 0))
    t.append(("dense1.weight", (256, 1600), 1600))
    t.append(("dense1.bias", (256,), 0))
    if act == "prelu":
        t.append(("dense1.prelu", (256,), 0))
    t.append(("out.weight", (10, 256), 256))
    t.append(("out.bias", (10,), 0))
    return t


def apply_act(act, alpha, x, a):
    if act == "relu":
        return F.relu(x)
    if act == "elu":
        return F.elu(x, alpha=alpha)
    if act == "leaky_relu":
        return F.leaky_relu(x, negative_slope=alpha)
    if act in SMOOTH:
        return SMOOTH[act](x)
    return F.prelu(x, a)


def model_forward(act, alpha, P, x):
    """Returns logits and the intermediates the margin check needs."""
    g = lambda n: P.get(n)
    z1 = F.conv2d(x, P["conv1.weight"], P["conv1.bias"])
    a1 = apply_act(act, alpha, z1, g("conv1.prelu"))
    p1 = F.max_pool2d(a1, 2)
    z2 = F.conv2d(p1, P["conv2.weight"], P["conv2.bias"])
    a2 = apply_act(act, alpha, z2, g("conv2.prelu"))
    p2 = F.max_pool2d(a2, 2)
    z3 = F.linear(torch.flatten(p2, 1), P["dense1.weight"], P["dense1.bias"])
    a3 = apply_act(act, alpha, z3, g("dense1.prelu"))
    logits = F.linear(a3, P["out.weight"], P["out.bias"])
    return logits, {"z1": z1, "a1": a1, "z2": z2, "a2": a2, "z3": z3, "logits": logits}


def top2_gap(v, dim):
    """Per-slice gap between the largest and second largest along dim, +inf
    where both are exactly 0 (relu: all-zero windows, where every
    implementation picks the first element)."""
    s = torch.sort(v, dim=dim, descending=True).values
    a, b = s.select(dim, 0), s.select(dim, 1)
    gap = a - b
    gap[(a == 0) & (b == 0)] = float("inf")
    return gap


def pool_windows(a):
    """(B,C,H,W) -> (B,C,H/2,W/2,4): each 2x2 window (odd edge dropped)."""
    B, C, H, W = a.shape
    a = a[:, :, :H // 2 * 2, :W // 2 * 2]
    return a.reshape(B, C, H // 2, 2, W // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(
        B, C, H // 2, W // 2, 4)


def margin_ratio(act, alpha, P32, x32):
    """The smallest (distance to a decision) / (float32 error of its layer)
    over the decisions of the forward pass whose outcome changes the
    gradients: the sign of a pre-activation that receives gradient (a pool
    window's winner, any element of an all-zero relu window, every dense
    unit; skipped for elu with alpha 1, whose derivative is continuous), the
    winner of every pool window, and the argmax of every sample's logits.
    The smooth activations have no kink (selu's derivative jumps at 0: it
    has one).
    The error of a layer is the largest |float32 - float64| of torch's
    forward pass over that layer."""
    P64 = {k: v.detach().double() for k, v in P32.items()}
    with torch.no_grad():
        _, i32 = model_forward(act, alpha, {k: v.detach() for k, v in P32.items()}, x32)
        _, i64 = model_forward(act, alpha, P64, x32.double())
    err = {k: (i32[k].double() - i64[k]).abs().max().item() + 1e-30 for k in i64}
    kinks = act == "selu" or (act not in SMOOTH and not (act == "elu" and alpha == 1.0))
    worst = math.inf
    for z, a in (("z1", "a1"), ("z2", "a2")):
        wa = pool_windows(i64[a])
        worst = min(worst, top2_gap(wa, -1).min().item() / err[a])
        if kinks:
            wz = pool_windows(i64[z])
            rel = torch.zeros_like(wz, dtype=torch.bool)
            rel.scatter_(-1, wa.argmax(-1, keepdim=True), True)
            if act == "relu":
                rel |= (wa.max(-1, keepdim=True).values == 0)
            worst = min(worst, wz.abs()[rel].min().item() / err[z])
    if kinks:
        worst = min(worst, i64["z3"].abs().min().item() / err["z3"])
    worst = min(worst, top2_gap(i64["logits"], 1).min().item() / err["logits"])
    return worst


MARGIN = 5.0   # required margin_ratio: our error and torch's each <= err


def case_model(act, alpha):
    name = f"model_{act}"
    for salt in range(1, 1000):
        base = 1000 * salt
        c = Case(name)
        c.param("salt", salt)
        c.param("act", ACT_KIND[act])
        c.param("alpha", f32(alpha))
        c.param("B", MODEL_B)
        P = {}
        for t, (tname, shape, fan_in) in enumerate(model_tensors(act)):
            n = int(np.prod(shape))
            if tname.endswith(".weight"):
                v = c.gen(tname, [n], "signed", base + t, f32(math.sqrt(3.0 / fan_in)))
            elif tname.endswith(".bias"):
                v = c.gen(tname, [n], "signed", base + t, f32(0.1))
            else:
                v = c.gen(tname, [n], "const", 0, f32(alpha))
            P[tname] = v.reshape(shape).requires_grad_()
        x = c.gen("x", [MODEL_B, 1, 28, 28], "unit", base + 50)
        labels = torch.from_numpy(gen_values(MODEL_B, "label", base + 51, 10))
        c.lines.append(f"gen labels {MODEL_B} label {base + 51} 10")
        worst = margin_ratio(act, alpha, P, x)
        if worst > MARGIN:
            break
        print(f"{name}: salt {salt} rejected (margin ratio {worst:.3g})", file=sys.stderr)
    else:
        raise RuntimeError(f"{name}: no salt with safe margins")
    print(f"{name}: salt {salt}, margin ratio {worst:.3g}", file=sys.stderr)

    logits, _ = model_forward(act, alpha, P, x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    c.param("correct", int((logits.argmax(1) == labels).sum()))
    c.data("logits", logits)
    c.data("loss", loss)

    names = [t[0] for t in model_tensors(act)]
    grads = {k: P[k].grad.detach().clone() for k in names}

    def stride_of(k, what):
        if k != "dense1.weight":
            return 1
        if what == "grad" and act == "relu":
            return 1
        return DENSE1_STRIDE

    for k in names:
        c.data(f"grad.{k}", grads[k].reshape(-1), stride_of(k, "grad"))

    for what, make in (("adam", lambda ps: torch.optim.Adam(ps, lr=1e-3, betas=(0.9, 0.999),
                                                             eps=1e-7)),
                       ("sgd", lambda ps: torch.optim.SGD(ps, lr=0.01))):
        ps = [P[k].detach().clone().requires_grad_() for k in names]
        for p, k in zip(ps, names):
            p.grad = grads[k].clone()
        opt = make(ps)
        opt.step()
        for p, k in zip(ps, names):
            c.data(f"{what}.{k}", p.detach().reshape(-1), stride_of(k, what))
    return c


def main():
    args = sys.argv[1:]
    new_models = "--new-models" in args
    args = [a for a in args if a != "--new-models"]
    if len(args) != 1:
        print("usage: /usr/bin/python3 tools/torch_golden.py OUTDIR [--new-models]",
              file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    torch.manual_seed(0)   # nothing is random; set anyway
    torch.use_deterministic_algorithms(True)
    cases = [
        case_gen_check(),
        case_conv("conv_ic2", 3, 2, 7, 7, 4, 100),
        case_conv("conv_ic1", 3, 1, 7, 7, 4, 200),
        case_conv("conv_rect", 2, 3, 5, 8, 2, 300),
        case_maxpool("maxpool", 3, 2, 7, 7, 400),
        case_maxpool("maxpool_rect", 2, 3, 6, 9, 500),
        case_maxpool("maxpool_ties", 2, 2, 6, 6, 550, ties=True),
        case_dense(600),
        case_act("relu", "relu", 0.0, 700),
        case_act("elu", "elu", 1.0, 710),
        case_act("elu07", "elu", 0.7, 720),
        case_act("leaky", "leaky_relu", 0.1, 730),
        case_act("prelu", "prelu", 0.25, 740),
        case_act("prelu_var", "prelu", 0.25, 750, alphas=f32(0.5)),
        *[case_smooth(act, act, 850 + 10 * k, 2.0) for k, act in enumerate(SMOOTH)],
        *[case_smooth(f"{act}_wide", act, 855 + 10 * k, 12.0) for k, act in enumerate(SMOOTH)],
        case_xent(800),
        case_model("relu", 0.0),
        case_model("elu", 1.0),
        case_model("leaky_relu", 0.1),
        case_model("prelu", 0.25),
    ]
    if new_models:
        cases += [case_model(act, 0.0) for act in SMOOTH]
    write_all(args[0], cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
