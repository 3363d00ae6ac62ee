#!/usr/bin/python3
"""Golden values from PyTorch for sweep's training pieces: batch norm, same
padding, optimizer update rules and learning-rate schedules.

Run (Debian's python3-torch; torch 1.13 was used for the committed files):

    /usr/bin/python3 tools/torch_golden_train.py tests/golden

It rewrites tests/golden/manifest_train.txt and one <case>.bin.gz per case;
tests/unit/test_golden_train.c (`build/test_unit golden_train`) checks the
C code against them. The file format, the input formula (`gen` lines) and
the Case writer are those of tools/torch_golden.py, imported from it; only
the manifest's name differs, so that each script rewrites its own cases.

Cases:
  bn2d, bn2d_big    BatchNorm2d(C, eps=1e-3, momentum=0.01) (Keras' 0.99),
  bn1d              BatchNorm1d for dense layers: three training steps on
                    inputs x1, x2, x3 (gen), running statistics starting at
                    mean 0, var 1 (torch's and Keras' start); y3 (output of
                    step 3), and for upstream gradient g on step 3: dx,
                    dgamma, dbeta; running_mean and running_var after the 3
                    steps (torch updates running_var with the UNBIASED batch
                    variance); y_eval, evaluation of x1 with them.
  conv_same_*       conv2d 3x3, padding=1: out, and for upstream g: dx,
                    dweight (OC, IC*9), dbias.
  opt_*             one optimizer over STEPS steps of a fixed gradient
                    sequence g1..gSTEPS (gen) from p0 (gen), hyper-
                    parameters as params (float32 values, given to torch as
                    the same numbers): p1..pSTEPS after each step, and the
                    final state (s0, s1: the buffers of optim_rules.h).
  sched_*           the learning rate of each epoch under
                    torch.optim.lr_scheduler.StepLR / CosineAnnealingLR,
                    stepped once per epoch (float32).
  model_rgb32       the blog's CNN on 3x32x32 images (CIFAR's shape; conv
                    32, conv 64, dense 256 from 64x6x6 = 2304 inputs, 10
                    classes, elu alpha 1, dropout 0, B=4), built from
                    torch.nn layers (Conv2d, ELU, MaxPool2d, Flatten,
                    Linear) whose weights are set from the formula as in
                    torch_golden.py's model cases, with the same salt search
                    for safe margins: logits, loss, correct, grad.NAME,
                    adam.NAME and sgd.NAME as there (param act, alpha, B,
                    in_c, in_h, in_w). dense1.weight (256x2304) is stored
                    with stride 41 in grad, adam and sgd.
  model_bn_same,    a whole model with batch norm after each conv and the
  model_bn_valid    hidden dense layer (before the activation, elu alpha 1),
                    conv [4, 8] (padding same or valid), dense [16], on
                    1x12x12 images, 10 classes, B=8, dropout 0, formula
                    weights as tools/torch_golden.py's model cases (gamma,
                    beta signed 1.5 / 0.5): in training mode on x1, the
                    logits, mean loss, correct and every parameter's
                    gradient (grad.NAME, sweep's tensor names); then two
                    more training forwards (x2, x3) and bn_state, the
                    moving statistics in model_bn_state()'s order (per
                    layer C means, C variances); then logits_eval, x1 in
                    evaluation mode. The salt is searched so that every
                    max-pool winner and every sample's top logit beats its
                    runner-up by more than 5x the float32 error of its
                    layer (elu alpha 1 has no kink to guard).
"""
import gzip
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import torch_golden  # noqa: E402
from torch_golden import Case, f32  # noqa: E402

MANIFEST = "manifest_train.txt"
STEPS = 5


def write_cases(outdir, cases):
    """torch_golden.write_all, to MANIFEST."""
    os.makedirs(outdir, exist_ok=True)
    man = ["# sweep golden values: written by tools/torch_golden_train.py, do not edit.",
           f"# torch {torch.__version__}; format described at the top of tools/torch_golden.py."]
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
    with open(os.path.join(outdir, MANIFEST), "w") as f:
        f.write("\n".join(man) + "\n")


# --------------------------------------------------------------------------
# Batch norm

def case_bn(name, shape, kind, arg, salt):
    """shape (B, C) or (B, C, H, W); inputs of gen kind/arg."""
    c = Case(name)
    B, C = shape[0], shape[1]
    S = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    for k, v in (("B", B), ("C", C), ("S", S)):
        c.param(k, v)
    bn = (torch.nn.BatchNorm2d if len(shape) == 4 else torch.nn.BatchNorm1d)(
        C, eps=1e-3, momentum=0.01)
    with torch.no_grad():
        bn.weight.copy_(c.gen("gamma", [C], "signed", salt + 1, 1.5))
        bn.bias.copy_(c.gen("beta", [C], "signed", salt + 2, 0.5))
    bn.train()
    xs = [c.gen(f"x{k}", list(shape), kind, salt + 2 + k, arg) for k in (1, 2, 3)]
    g = c.gen("g", list(shape), "signed", salt + 9, 1.0)
    for k, x in enumerate(xs, start=1):
        x = x.clone().requires_grad_()
        y = bn(x)
        if k == 3:
            y.backward(g)
            c.data("y3", y)
            c.data("dx", x.grad)
            c.data("dgamma", bn.weight.grad)
            c.data("dbeta", bn.bias.grad)
    c.data("running_mean", bn.running_mean)
    c.data("running_var", bn.running_var)
    bn.eval()
    with torch.no_grad():
        c.data("y_eval", bn(xs[0]))
    return c


# --------------------------------------------------------------------------
# Same padding

def case_conv_same(name, B, IC, H, W, OC, salt):
    c = Case(name)
    for k, v in (("B", B), ("IC", IC), ("H", H), ("W", W), ("OC", OC)):
        c.param(k, v)
    x = c.gen("x", [B, IC, H, W], "signed", salt + 1, 1.0).requires_grad_()
    w = c.gen("weight", [OC, IC * 9], "signed", salt + 2,
              f32(math.sqrt(3.0 / (IC * 9)))).requires_grad_()
    b = c.gen("bias", [OC], "signed", salt + 3, f32(0.5)).requires_grad_()
    g = c.gen("g", [B, OC, H, W], "signed", salt + 4, 1.0)
    out = F.conv2d(x, w.view(OC, IC, 3, 3), b, padding=1)
    out.backward(g)
    c.data("out", out)
    c.data("dx", x.grad)
    c.data("dweight", w.grad)
    c.data("dbias", b.grad)
    return c


# --------------------------------------------------------------------------
# Optimizers

RULES = {"adam": 0, "adamw": 1, "sgd": 2, "rmsprop": 3}


def case_opt(name, rule, salt, n=50, lr=0.01, wd=0.0, momentum=0.0, nesterov=False):
    c = Case(name)
    hp = {"lr": f32(lr), "beta1": f32(0.9), "beta2": f32(0.999), "rho": f32(0.9),
          "eps": f32(1e-7), "momentum": f32(momentum), "weight_decay": f32(wd)}
    c.param("rule", RULES[rule])
    c.param("n", n)
    c.param("steps", STEPS)
    c.param("nesterov", int(nesterov))
    for k, v in hp.items():
        c.param(k, v)
    p = c.gen("p0", [n], "signed", salt, 1.0).clone().requires_grad_()
    grads = [c.gen(f"g{k}", [n], "signed", salt + k, 1.0) for k in range(1, STEPS + 1)]
    if rule == "adam":
        opt = torch.optim.Adam([p], lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]),
                               eps=hp["eps"], weight_decay=hp["weight_decay"])
    elif rule == "adamw":
        opt = torch.optim.AdamW([p], lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]),
                                eps=hp["eps"], weight_decay=hp["weight_decay"])
    elif rule == "sgd":
        opt = torch.optim.SGD([p], lr=hp["lr"], momentum=hp["momentum"], dampening=0,
                              weight_decay=hp["weight_decay"], nesterov=nesterov)
    else:
        opt = torch.optim.RMSprop([p], lr=hp["lr"], alpha=hp["rho"], eps=hp["eps"],
                                  weight_decay=hp["weight_decay"], momentum=hp["momentum"])
    for k, g in enumerate(grads, start=1):
        p.grad = g.clone()
        opt.step()
        c.data(f"p{k}", p)
    st = opt.state[p]
    keys = {"adam": ("exp_avg", "exp_avg_sq"), "adamw": ("exp_avg", "exp_avg_sq"),
            "sgd": ("momentum_buffer", None), "rmsprop": ("square_avg", "momentum_buffer")}[rule]
    for sname, key in zip(("s0", "s1"), keys):
        if key is not None and st.get(key) is not None:
            c.data(sname, st[key])
    return c


# --------------------------------------------------------------------------
# Schedules

SCHEDS = {"constant": 0, "step": 1, "cosine": 2}


def case_sched(name, kind, epochs, every=1, gamma=1.0, base=0.1):
    c = Case(name)
    c.param("kind", SCHEDS[kind])
    c.param("epochs", epochs)
    c.param("every", every)
    c.param("gamma", gamma)
    c.param("base", base)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    if kind == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=every, gamma=gamma)
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=0)
    lrs = []
    for _ in range(epochs):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    c.data("lr", torch.tensor(lrs, dtype=torch.float64))
    return c


# --------------------------------------------------------------------------
# The whole model on colour images

RGB_B = 4


def rgb_tensors(in_c, h, w):
    """(name, torch shape, fan_in) in sweep's model_tensor_at() order."""
    ph, pw = ((h - 2) // 2 - 2) // 2, ((w - 2) // 2 - 2) // 2   # after two conv+pool blocks
    flat = 64 * ph * pw
    return [("conv1.weight", (32, in_c, 3, 3), in_c * 9), ("conv1.bias", (32,), 0),
            ("conv2.weight", (64, 32, 3, 3), 32 * 9), ("conv2.bias", (64,), 0),
            ("dense1.weight", (256, flat), flat), ("dense1.bias", (256,), 0),
            ("out.weight", (10, 256), 256), ("out.bias", (10,), 0)]


def rgb_net(in_c, h, w, alpha):
    """The model as torch.nn layers, in model_tensor_at() order of parameters."""
    t = rgb_tensors(in_c, h, w)
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(in_c, 32, 3), nn.ELU(alpha), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3), nn.ELU(alpha), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(t[4][1][1], 256), nn.ELU(alpha),
                         nn.Linear(256, 10))


def case_model_rgb(name, in_c, h, w, salt0):
    act, alpha = "elu", 1.0
    for salt in range(1, 1000):
        base = salt0 + 1000 * salt
        c = Case(name)
        c.param("salt", salt)
        c.param("act", torch_golden.ACT_KIND[act])
        c.param("alpha", f32(alpha))
        c.param("B", RGB_B)
        c.param("in_c", in_c)
        c.param("in_h", h)
        c.param("in_w", w)
        P = {}
        for t, (tname, shape, fan_in) in enumerate(rgb_tensors(in_c, h, w)):
            n = int(np.prod(shape))
            scale = f32(math.sqrt(3.0 / fan_in)) if tname.endswith(".weight") else f32(0.1)
            P[tname] = c.gen(tname, [n], "signed", base + t, scale).reshape(shape)
        x = c.gen("x", [RGB_B, in_c, h, w], "unit", base + 50)
        labels = torch.from_numpy(torch_golden.gen_values(RGB_B, "label", base + 51, 10))
        c.lines.append(f"gen labels {RGB_B} label {base + 51} 10")
        worst = torch_golden.margin_ratio(act, alpha, P, x)
        if worst > torch_golden.MARGIN:
            break
        print(f"{name}: salt {salt} rejected (margin ratio {worst:.3g})", file=sys.stderr)
    else:
        raise RuntimeError(f"{name}: no salt with safe margins")
    print(f"{name}: salt {salt}, margin ratio {worst:.3g}", file=sys.stderr)

    net = rgb_net(in_c, h, w, alpha)
    names = [t[0] for t in rgb_tensors(in_c, h, w)]
    params = list(net.parameters())   # weight, bias of each layer, in order
    with torch.no_grad():
        for p, k in zip(params, names):
            p.copy_(P[k])
    logits = net(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    c.param("correct", int((logits.argmax(1) == labels).sum()))
    c.data("logits", logits)
    c.data("loss", loss)
    grads = {k: p.grad.detach().clone() for p, k in zip(params, names)}
    stride = {k: 41 if k == "dense1.weight" else 1 for k in names}
    for k in names:
        c.data(f"grad.{k}", grads[k].reshape(-1), stride[k])
    for what, make in (("adam", lambda ps: torch.optim.Adam(ps, lr=1e-3, betas=(0.9, 0.999),
                                                             eps=1e-7)),
                       ("sgd", lambda ps: torch.optim.SGD(ps, lr=0.01))):
        ps = [P[k].detach().clone().requires_grad_() for k in names]
        for p, k in zip(ps, names):
            p.grad = grads[k].clone()
        make(ps).step()
        for p, k in zip(ps, names):
            c.data(f"{what}.{k}", p.detach().reshape(-1), stride[k])
    return c


# --------------------------------------------------------------------------
# A whole model with batch norm

MODEL_BN_B = 8


def model_bn_tensors(same):
    """(name, torch shape, fan_in) in sweep's model_tensor_at() order: the
    layers, then the batch norm tensors."""
    side = 12
    for _ in range(2):
        side = (side + (2 if same else 0) - 2) // 2
    t = [("conv1.weight", (4, 1, 3, 3), 9), ("conv1.bias", (4,), 0),
         ("conv2.weight", (8, 4, 3, 3), 36), ("conv2.bias", (8,), 0),
         ("dense1.weight", (16, 8 * side * side), 8 * side * side), ("dense1.bias", (16,), 0),
         ("out.weight", (10, 16), 16), ("out.bias", (10,), 0)]
    for layer, C in (("conv1", 4), ("conv2", 8), ("dense1", 16)):
        t.append((f"{layer}.bn.gamma", (C,), 0))
        t.append((f"{layer}.bn.beta", (C,), 0))
    return t


def model_bn_forward(P, x, running, training, pad):
    """running: {layer: (mean, var)} tensors updated in place in training."""
    def bn(z, layer):
        m, v = running[layer]
        return F.batch_norm(z, m, v, P[f"{layer}.bn.gamma"], P[f"{layer}.bn.beta"],
                            training=training, momentum=0.01, eps=1e-3)
    z1 = F.conv2d(x, P["conv1.weight"], P["conv1.bias"], padding=pad)
    a1 = F.elu(bn(z1, "conv1"))
    p1 = F.max_pool2d(a1, 2)
    z2 = F.conv2d(p1, P["conv2.weight"], P["conv2.bias"], padding=pad)
    a2 = F.elu(bn(z2, "conv2"))
    p2 = F.max_pool2d(a2, 2)
    z3 = F.linear(torch.flatten(p2, 1), P["dense1.weight"], P["dense1.bias"])
    a3 = F.elu(bn(z3, "dense1"))
    logits = F.linear(a3, P["out.weight"], P["out.bias"])
    return logits, {"a1": a1, "a2": a2, "logits": logits}


def fresh_running(dtype):
    return {layer: (torch.zeros(C, dtype=dtype), torch.ones(C, dtype=dtype))
            for layer, C in (("conv1", 4), ("conv2", 8), ("dense1", 16))}


def model_bn_margin(P, x, pad):
    """The smallest (gap to a decision) / (float32 error of its layer) over
    the pool windows' winners and the samples' top logits."""
    with torch.no_grad():
        _, i32 = model_bn_forward({k: v.detach() for k, v in P.items()}, x,
                                  fresh_running(torch.float32), True, pad)
        _, i64 = model_bn_forward({k: v.detach().double() for k, v in P.items()}, x.double(),
                                  fresh_running(torch.float64), True, pad)
    err = {k: (i32[k].double() - i64[k]).abs().max().item() + 1e-30 for k in i64}
    worst = math.inf
    for a in ("a1", "a2"):
        worst = min(worst, torch_golden.top2_gap(torch_golden.pool_windows(i64[a]), -1)
                    .min().item() / err[a])
    return min(worst, torch_golden.top2_gap(i64["logits"], 1).min().item() / err["logits"])


def case_model_bn(name, same):
    pad = 1 if same else 0
    for salt in range(1, 1000):
        base = 5000 + 1000 * salt
        c = Case(name)
        for k, v in (("salt", salt), ("act", 1), ("B", MODEL_BN_B), ("same", int(same))):
            c.param(k, v)
        c.param("alpha", 1.0)
        P = {}
        for t, (tname, shape, fan_in) in enumerate(model_bn_tensors(same)):
            n = int(np.prod(shape))
            if tname.endswith(".weight"):
                v = c.gen(tname, [n], "signed", base + t, f32(math.sqrt(3.0 / fan_in)))
            elif tname.endswith(".bias"):
                v = c.gen(tname, [n], "signed", base + t, f32(0.1))
            elif tname.endswith(".gamma"):
                v = c.gen(tname, [n], "signed", base + t, 1.5)
            else:
                v = c.gen(tname, [n], "signed", base + t, 0.5)
            P[tname] = v.reshape(shape).requires_grad_()
        xs = [c.gen(f"x{k}", [MODEL_BN_B, 1, 12, 12], "unit", base + 50 + k) for k in (1, 2, 3)]
        labels = torch.from_numpy(torch_golden.gen_values(MODEL_BN_B, "label", base + 60, 10))
        c.lines.append(f"gen labels {MODEL_BN_B} label {base + 60} 10")
        worst = model_bn_margin(P, xs[0], pad)
        if worst > 5.0:
            break
    else:
        raise RuntimeError(f"{name}: no salt with safe margins")
    print(f"{name}: salt {salt}, margin ratio {worst:.3g}", file=sys.stderr)
    running = fresh_running(torch.float32)
    logits, _ = model_bn_forward(P, xs[0], running, True, pad)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    c.param("correct", int((logits.argmax(1) == labels).sum()))
    c.data("logits", logits)
    c.data("loss", loss)
    for tname, _, _ in model_bn_tensors(same):
        c.data(f"grad.{tname}", P[tname].grad.reshape(-1))
    with torch.no_grad():
        for x in xs[1:]:
            model_bn_forward(P, x, running, True, pad)
        c.data("bn_state", torch.cat([torch.cat(running[layer]) for layer in
                                      ("conv1", "conv2", "dense1")]))
        logits_eval, _ = model_bn_forward(P, xs[0], running, False, pad)
        c.data("logits_eval", logits_eval)
    return c


def main():
    if len(sys.argv) != 2:
        print("usage: /usr/bin/python3 tools/torch_golden_train.py OUTDIR", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    torch.manual_seed(0)   # nothing is random; set anyway
    torch.use_deterministic_algorithms(True)
    assert torch_golden.gen_values(1, "const", 0, 2.0)[0] == 2.0
    cases = [
        case_bn("bn2d", (4, 3, 5, 5), "unit", 0.0, 2000),
        case_bn("bn2d_big", (16, 2, 12, 12), "unit", 0.0, 2100),
        case_bn("bn1d", (6, 5), "signed", 2.0, 2200),
        case_conv_same("conv_same_ic1", 3, 1, 7, 7, 4, 2300),
        case_conv_same("conv_same_ic3", 2, 3, 5, 8, 2, 2400),
        case_conv_same("conv_same_ic4", 2, 4, 6, 6, 5, 2500),
        case_conv_same("conv_same_28", 2, 1, 28, 28, 3, 2600),
        case_conv_same("conv_same_wide", 3, 2, 9, 37, 3, 2700),
        case_opt("opt_adam", "adam", 3000),
        case_opt("opt_adam_wd", "adam", 3100, wd=0.1),
        case_opt("opt_adamw", "adamw", 3200, wd=0.1),
        case_opt("opt_sgd", "sgd", 3300, lr=0.1, wd=0.01),
        case_opt("opt_sgd_momentum", "sgd", 3400, lr=0.1, wd=0.01, momentum=0.9),
        case_opt("opt_sgd_nesterov", "sgd", 3500, lr=0.1, wd=0.01, momentum=0.9,
                 nesterov=True),
        case_opt("opt_rmsprop", "rmsprop", 3600, wd=0.01),
        case_opt("opt_rmsprop_momentum", "rmsprop", 3700, wd=0.01, momentum=0.9),
        case_sched("sched_step", "step", 10, every=3, gamma=0.5),
        case_sched("sched_step1", "step", 7, every=1, gamma=0.9),
        case_sched("sched_cosine", "cosine", 10),
        case_sched("sched_cosine7", "cosine", 7),
        case_model_rgb("model_rgb32", 3, 32, 32, 4000),
        case_model_bn("model_bn_same", True),
        case_model_bn("model_bn_valid", False),
    ]
    write_cases(sys.argv[1], cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
