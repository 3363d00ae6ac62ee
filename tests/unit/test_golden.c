/* test_golden.c: our kernels, model and optimizers against PyTorch.
 *
 * tools/torch_golden.py (run with Debian's python3-torch) writes
 * tests/golden/manifest.txt and one <case>.bin.gz per case: every layer's
 * outputs and gradients, and one full training step of the blog's CNN, for
 * inputs and weights that both sides compute from the same float32 formula
 * (golden_gen() in golden_io.h; the script's docstring describes it and the file
 * format). So these tests need no torch.
 *
 * The rule: for each tensor, max |ours - torch| / max(max |torch|, 1e-12)
 * <= 1e-4. Ours are converted to torch's layout first: our activations are
 * (C,B,H,W) / (features,B), torch's (B,C,H,W) / (B,features).
 * Optimizer steps compare the update (new - old) with the same rule, the
 * reference scale being max |torch new - old|, after allowing each element
 * 2 ulps of its parameter for the rounding of the stored new value. The
 * step from our own gradients leaves out, for Adam only, the elements whose
 * first-step update lr*g/(|g|+eps) is not pinned down by the gradient rule
 * (|g| < sqrt(eps * max|g|)); Adam itself is checked on every stored
 * element by a step from torch's gradients.
 *
 * The folder is $SWEEP_GOLDEN_DIR, else tests/golden (tests run from the
 * repository root). SWEEP_GOLDEN_VERBOSE=1 prints each case's worst
 * relative error, =2 every tensor's. Regenerate: /usr/bin/python3 tools/torch_golden.py tests/golden */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "nn/act_smooth.h"
#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/dense.h"
#include "nn/loss.h"
#include "nn/pool.h"
#include "train/model.h"
#include "train/optim.h"
#include "golden_io.h"
#include "test.h"

/* The loader, layouts and comparison: golden_io.h (shared with
 * test_golden_train.c). */

/* ------------------------------------------------------------ layer cases */

static void test_golden_formula(void)
{
    golden_case *c = golden_load("gen_check");
    golden_tensor *t[7];
    static const char *const names[] = {"signed_in", "signed", "unit_in", "unit", "label_in",
                                        "label", NULL};
    if (!c || !golden_all(c, t, names))
        goto done;
    for (int k = 0; k < 6; k += 2)
        CHECK_MSG(t[k]->n == t[k + 1]->n &&
                      memcmp(t[k]->v, t[k + 1]->v, sizeof(float) * (size_t)t[k]->n) == 0,
                  "golden_gen('%s') differs from tools/torch_golden.py's formula", t[k]->name);
done:
    golden_free(c);
}

static void golden_conv(const char *name)
{
    golden_report r = {name, "", 0};
    golden_case *c = golden_load(name);
    golden_tensor *t[9];
    static const char *const names[] = {"x", "weight", "bias", "g", "out", "dx", "dweight",
                                        "dbias", NULL};
    if (!c || !golden_all(c, t, names))
        goto done;
    int B = (int)golden_param(c, "B"), IC = (int)golden_param(c, "IC");
    int H = (int)golden_param(c, "H"), W = (int)golden_param(c, "W");
    int OC = (int)golden_param(c, "OC");
    long S = (long)H * W, OS = (long)(H - 2) * (W - 2);
    float *x = falloc(B * IC * S), *col = falloc(conv_col_size(B, IC, H, W, 0));
    float *dcol = falloc(conv_col_size(B, IC, H, W, 0)), *out = falloc(OC * B * OS);
    float *g = falloc(OC * B * OS), *dx = falloc(B * IC * S), *tmp = falloc(B * IC * S + OC * B * OS);
    float *dw = falloc(OC * IC * 9L), *db = falloc(OC);

    to_ours(x, t[0]->v, B, IC, S);
    conv_forward(out, col, x, t[1]->v, t[2]->v, B, IC, H, W, OC, 0);
    to_torch(tmp, out, B, OC, OS);
    compare(&r, "out", tmp, t[4]);

    to_ours(g, t[3]->v, B, OC, OS);
    conv_backward(dx, dcol, dw, db, g, col, t[1]->v, B, IC, H, W, OC, 0);
    to_torch(tmp, dx, B, IC, S);
    compare(&r, "dx", tmp, t[5]);
    compare(&r, "dweight", dw, t[6]);
    compare(&r, "dbias", db, t[7]);
    report_end(&r);
    free(x), free(col), free(dcol), free(out), free(g), free(dx), free(tmp), free(dw), free(db);
done:
    golden_free(c);
}

static void test_golden_conv_ic2(void) { golden_conv("conv_ic2"); }
static void test_golden_conv_ic1(void) { golden_conv("conv_ic1"); }
static void test_golden_conv_rect(void) { golden_conv("conv_rect"); }

static void golden_maxpool(const char *name)
{
    golden_report r = {name, "", 0};
    golden_case *c = golden_load(name);
    golden_tensor *t[5];
    static const char *const names[] = {"x", "g", "out", "dx", NULL};
    if (!c || !golden_all(c, t, names))
        goto done;
    int B = (int)golden_param(c, "B"), C = (int)golden_param(c, "C");
    int H = (int)golden_param(c, "H"), W = (int)golden_param(c, "W");
    long S = (long)H * W, OS = (long)(H / 2) * (W / 2);
    float *x = falloc(C * B * S), *out = falloc(C * B * OS), *g = falloc(C * B * OS);
    float *dx = falloc(C * B * S), *tmp = falloc(C * B * S);
    uint8_t *argmax = calloc((size_t)(C * B * OS), 1);
    if (!argmax)
        exit(1);

    to_ours(x, t[0]->v, B, C, S);
    maxpool_forward(out, argmax, x, (long)C * B, H, W);
    to_torch(tmp, out, B, C, OS);
    compare(&r, "out", tmp, t[2]);
    to_ours(g, t[1]->v, B, C, OS);
    maxpool_backward(dx, g, argmax, (long)C * B, H, W);
    to_torch(tmp, dx, B, C, S);
    compare(&r, "dx", tmp, t[3]);
    report_end(&r);
    free(x), free(out), free(g), free(dx), free(tmp), free(argmax);
done:
    golden_free(c);
}

static void test_golden_maxpool(void) { golden_maxpool("maxpool"); }
static void test_golden_maxpool_rect(void) { golden_maxpool("maxpool_rect"); }
static void test_golden_maxpool_ties(void) { golden_maxpool("maxpool_ties"); }

static void test_golden_dense(void)
{
    golden_report r = {"dense", "", 0};
    golden_case *c = golden_load("dense");
    golden_tensor *t[9];
    static const char *const names[] = {"x", "weight", "bias", "g", "out", "dx", "dweight",
                                        "dbias", NULL};
    if (!c || !golden_all(c, t, names))
        goto done;
    int B = (int)golden_param(c, "B"), IN = (int)golden_param(c, "IN");
    int OUT = (int)golden_param(c, "OUT");
    float *x = falloc(IN * B), *out = falloc(OUT * B), *g = falloc(OUT * B);
    float *dx = falloc(IN * B), *tmp = falloc(IN * B + OUT * B);
    float *dw = falloc(OUT * IN), *db = falloc(OUT);

    to_ours(x, t[0]->v, B, IN, 1);
    dense_forward(out, x, t[1]->v, t[2]->v, B, IN, OUT);
    to_torch(tmp, out, B, OUT, 1);
    compare(&r, "out", tmp, t[4]);
    to_ours(g, t[3]->v, B, OUT, 1);
    dense_backward(dx, dw, db, g, x, t[1]->v, B, IN, OUT);
    to_torch(tmp, dx, B, IN, 1);
    compare(&r, "dx", tmp, t[5]);
    compare(&r, "dweight", dw, t[6]);
    compare(&r, "dbias", db, t[7]);
    report_end(&r);
    free(x), free(out), free(g), free(dx), free(tmp), free(dw), free(db);
done:
    golden_free(c);
}

static void golden_act(const char *name)
{
    golden_report r = {name, "", 0};
    golden_case *c = golden_load(name);
    golden_tensor *t[5];
    static const char *const names[] = {"x", "g", "out", "dx", NULL};
    if (!c || !golden_all(c, t, names))
        goto done;
    int B = (int)golden_param(c, "B"), C = (int)golden_param(c, "C");
    long S = (long)golden_param(c, "H") * (long)golden_param(c, "W"), n = B * S;
    act_params a = {(act_kind)golden_param(c, "act"), (float)golden_param(c, "alpha"), NULL};
    golden_tensor *alpha = NULL, *dalpha = NULL;
    if (a.kind == ACT_PRELU) {
        if (!(alpha = golden_get(c, "prelu")) || !(dalpha = golden_get(c, "dalpha")))
            goto done;
        a.prelu_alpha = alpha->v;
    }
    float *x = falloc(C * n), *out = falloc(C * n), *g = falloc(C * n), *dx = falloc(C * n);
    float *tmp = falloc(C * n), *da = falloc(C);

    to_ours(x, t[0]->v, B, C, S);
    act_forward(&a, out, x, C, n);
    to_torch(tmp, out, B, C, S);
    compare(&r, "out", tmp, t[2]);
    to_ours(g, t[1]->v, B, C, S);
    act_backward(&a, dx, dalpha ? da : NULL, g, x, out, C, n);
    to_torch(tmp, dx, B, C, S);
    compare(&r, "dx", tmp, t[3]);
    if (dalpha)
        compare(&r, "dalpha", da, dalpha);

    report_end(&r);
    free(x), free(out), free(g), free(dx), free(tmp), free(da);
done:
    golden_free(c);
}

static void test_golden_relu(void) { golden_act("relu"); }
static void test_golden_elu(void) { golden_act("elu"); }
static void test_golden_elu07(void) { golden_act("elu07"); }
static void test_golden_leaky(void) { golden_act("leaky"); }
static void test_golden_prelu(void) { golden_act("prelu"); }
static void test_golden_prelu_var(void) { golden_act("prelu_var"); }

/* The smooth activations (nn/act_smooth.h): elementwise, so torch's
 * layout is used as it is. The case name (less "_wide") picks the kernels. */
static const struct {
    const char *name;
    void (*fwd)(float *, const float *, long);
    void (*bwd)(float *, const float *, const float *, const float *, long);
} smooth_kernels[] = {
    {"selu", act_selu_forward, act_selu_backward},
    {"gelu", act_gelu_forward, act_gelu_backward},
    {"silu", act_silu_forward, act_silu_backward},
    {"mish", act_mish_forward, act_mish_backward},
    {"tanh", act_tanh_forward, act_tanh_backward},
    {"softplus", act_softplus_forward, act_softplus_backward},
};

static void golden_smooth(const char *name)
{
    golden_report r = {name, "", 0};
    golden_case *c = golden_load(name);
    golden_tensor *t[5];
    static const char *const names[] = {"x", "g", "out", "dx", NULL};
    if (!c || !golden_all(c, t, names))
        goto done;
    size_t len = strcspn(name, "_");
    int k = 0, nk = (int)(sizeof smooth_kernels / sizeof smooth_kernels[0]);
    while (k < nk && (strlen(smooth_kernels[k].name) != len ||
                      strncmp(smooth_kernels[k].name, name, len) != 0))
        k++;
    if (k == nk) {
        test_fail(__FILE__, __LINE__, "%s: no kernel for this case", name);
        goto done;
    }
    long n = t[0]->n;
    float *out = falloc(n), *dx = falloc(n);
    smooth_kernels[k].fwd(out, t[0]->v, n);
    compare(&r, "out", out, t[2]);
    smooth_kernels[k].bwd(dx, t[1]->v, t[0]->v, out, n);
    compare(&r, "dx", dx, t[3]);
    report_end(&r);
    free(out), free(dx);
done:
    golden_free(c);
}

static void test_golden_smooth(void)
{
    for (size_t k = 0; k < sizeof smooth_kernels / sizeof smooth_kernels[0]; k++) {
        char wide[32];
        snprintf(wide, sizeof wide, "%s_wide", smooth_kernels[k].name);
        golden_smooth(smooth_kernels[k].name);
        golden_smooth(wide);
    }
}

static void test_golden_xent(void)
{
    golden_report r = {"xent", "", 0};
    golden_case *c = golden_load("xent");
    golden_tensor *t[5];
    static const char *const names[] = {"logits", "labels", "loss", "dlogits", NULL};
    if (!c || !golden_all(c, t, names))
        goto done;
    int B = (int)golden_param(c, "B"), K = (int)golden_param(c, "K"), correct = -1;
    float *logits = falloc(K * B), *dl = falloc(K * B), *tmp = falloc(K * B);
    uint8_t labels[256];
    for (int b = 0; b < B && b < 256; b++)
        labels[b] = (uint8_t)t[1]->v[b];

    to_ours(logits, t[0]->v, B, K, 1);
    float loss = (float)(softmax_xent(dl, &correct, logits, labels, K, B, (float)B) / B);
    compare(&r, "loss (mean)", &loss, t[2]);
    to_torch(tmp, dl, B, K, 1);
    compare(&r, "dlogits", tmp, t[3]);
    CHECK_INT(correct, golden_param(c, "correct"));
    report_end(&r);
    free(logits), free(dl), free(tmp);
done:
    golden_free(c);
}

/* ------------------------------------------------------------ whole model */

/* Compares an optimizer step: new params ours (all of ref->n) against
 * torch's (ref, strided), both from old (all n). Elements with skip[i] set
 * (may be NULL) are left out. The reference scale is max |ref - old|; each
 * element may also differ by 2 ulps of its parameter. */
static double step_err(const float *ours, const golden_tensor *ref, const float *old,
                       const uint8_t *skip)
{
    double maxd = 0, maxu = 0;
    for (long i = 0, j = 0; i < ref->n; i += ref->stride, j++) {
        double u = fabs((double)ref->v[j] - old[i]);
        maxu = u > maxu ? u : maxu;
        if (skip && skip[i])
            continue;
        double slack = ldexp(fmax(fabs(old[i]), fabs(ref->v[j])), -22);
        double d = fabs((double)ours[i] - ref->v[j]);
        if (isnan(d) || isinf(d))
            return INFINITY;
        d = d > slack ? d - slack : 0;
        maxd = d > maxd ? d : maxd;
    }
    return maxd / (maxu > 1e-12 ? maxu : 1e-12);
}

/* Name of the golden tensor "prefix.tensor". */
static golden_tensor *model_ref(golden_case *c, const char *prefix, const char *tensor)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%s", prefix, tensor);
    return golden_get(c, name);
}

/* A param the older cases lack: dflt then. */
static double param_or(const golden_case *c, const char *key, double dflt)
{
    for (int i = 0; i < c->n_params; i++)
        if (strcmp(c->pkey[i], key) == 0)
            return c->pval[i];
    return dflt;
}

/* A whole-model case of manifest; its images are 1x28x28 unless the case
 * gives in_c, in_h, in_w (model_rgb32: 3x32x32, planar as CIFAR's). */
static void golden_model_from(const char *manifest, const char *name)
{
    golden_report r = {name, "", 0};
    golden_case *c = golden_load_from(manifest, name);
    golden_tensor *t[5];
    static const char *const names[] = {"x", "labels", "logits", "loss", NULL};
    model *m = NULL;
    sw_error err = {0};
    float *p0 = NULL, *g = NULL, *work = NULL, *tmp = NULL, *cp = NULL, *cg = NULL;
    uint8_t *skip = NULL;
    optimizer o = {0};
    if (!c || !golden_all(c, t, names))
        goto done;
    int B = (int)golden_param(c, "B");
    model_spec s;
    model_spec_default(&s);
    s.act = (act_kind)golden_param(c, "act");
    s.alpha = (float)golden_param(c, "alpha");
    s.dropout = 0;
    s.in_c = (int)param_or(c, "in_c", s.in_c);
    s.in_h = (int)param_or(c, "in_h", s.in_h);
    s.in_w = (int)param_or(c, "in_w", s.in_w);
    if (model_create(&m, &s, B, &err) != SW_OK) {
        test_fail(__FILE__, __LINE__, "%s: model_create: %s", name, err.msg);
        goto done;
    }

    /* the parameters, tensor by tensor, as the script wrote them */
    int nt = model_num_tensors(m), n_gen = 0;
    long np = model_num_params(m);
    for (int i = 0; i < c->n_tensors; i++)
        n_gen += !c->t[i].is_data && strchr(c->t[i].name, '.') != NULL;
    CHECK_MSG(nt == n_gen, "%s: model has %d parameter tensors, torch %d", name, nt, n_gen);
    float *params = model_params(m);
    for (int i = 0; i < nt; i++) {
        const model_tensor *mt = model_tensor_at(m, i);
        golden_tensor *gt = golden_get(c, mt->name);
        if (!gt || gt->n != mt->size || mt->offset < 0 || mt->offset + mt->size > np) {
            test_fail(__FILE__, __LINE__, "%s: tensor %d '%s' (size %ld) does not match torch's",
                      name, i, mt->name, mt->size);
            goto done;
        }
        if (gt != &c->t[i])
            test_fail(__FILE__, __LINE__, "%s: tensor '%s' is number %d, torch's order differs",
                      name, mt->name, i);
        memcpy(params + mt->offset, gt->v, sizeof(float) * (size_t)mt->size);
    }
    uint8_t labels[64];
    for (int b = 0; b < B && b < 64; b++)
        labels[b] = (uint8_t)t[1]->v[b];

    /* forward, loss, gradients */
    int correct = -1, K = s.n_classes;
    tmp = falloc(K * B);
    model_forward(m, t[0]->v, B, 1, 0, 0);
    to_torch(tmp, model_logits(m), B, K, 1);
    compare(&r, "logits", tmp, t[2]);
    float loss = (float)(model_loss(m, labels, B, &correct, 1) / B);
    compare(&r, "loss (mean)", &loss, t[3]);
    CHECK_INT(correct, golden_param(c, "correct"));
    const float *grads = model_grads(m);
    for (int i = 0; i < nt; i++) {
        const model_tensor *mt = model_tensor_at(m, i);
        golden_tensor *ref = model_ref(c, "grad", mt->name);
        char what[64];
        snprintf(what, sizeof what, "grad.%s", mt->name);
        if (ref)
            compare(&r, what, grads + mt->offset, ref);
    }

    /* one step from our gradients: Adam in place as the trainer does it,
     * SGD on a copy */
    p0 = falloc(np), g = falloc(np), work = falloc(np), skip = calloc((size_t)np, 1);
    if (!skip)
        exit(1);
    memcpy(p0, params, sizeof(float) * (size_t)np);
    memcpy(g, grads, sizeof(float) * (size_t)np);
    for (int i = 0; i < nt; i++) {   /* Adam's ill-conditioned elements */
        const model_tensor *mt = model_tensor_at(m, i);
        golden_tensor *gr = model_ref(c, "grad", mt->name);
        if (!gr)
            goto done;
        double gmax = 0;
        for (long j = 0; j * gr->stride < gr->n; j++)
            gmax = fmax(gmax, fabs(gr->v[j]));
        double thr = sqrt(1e-7 * gmax);
        for (long k = 0; k < mt->size; k++)
            skip[mt->offset + k] = k % gr->stride != 0 || fabs(gr->v[k / gr->stride]) < thr;
    }
    for (int pass = 0; pass < 2; pass++) {
        const char *what = pass == 0 ? "adam" : "sgd";
        float *p = pass == 0 ? params : work;
        memcpy(work, p0, sizeof(float) * (size_t)np);
        if (optim_init(&o, pass == 0 ? OPT_ADAM : OPT_SGD, pass == 0 ? 1e-3f : 0.01f, np,
                       &err) != SW_OK) {
            test_fail(__FILE__, __LINE__, "%s: optim_init: %s", name, err.msg);
            goto done;
        }
        optim_step(&o, p, g);
        optim_free(&o);
        for (int i = 0; i < nt; i++) {
            const model_tensor *mt = model_tensor_at(m, i);
            golden_tensor *ref = model_ref(c, what, mt->name);
            char label[64];
            snprintf(label, sizeof label, "%s.%s", what, mt->name);
            if (ref)
                report(&r, label, step_err(p + mt->offset, ref, p0 + mt->offset,
                                           pass == 0 ? skip + mt->offset : NULL));
        }
    }

    /* the optimizers alone: one step from torch's own gradients, on every
     * element stored for both */
    for (int pass = 0; pass < 2; pass++) {
        const char *what = pass == 0 ? "adam" : "sgd";
        for (int i = 0; i < nt; i++) {
            const model_tensor *mt = model_tensor_at(m, i);
            golden_tensor *ref = model_ref(c, what, mt->name), *gr = model_ref(c, "grad", mt->name);
            if (!ref || !gr || ref->stride % gr->stride != 0) {
                test_fail(__FILE__, __LINE__, "%s: %s.%s: strides do not nest", name, what,
                          mt->name);
                continue;
            }
            long cnt = (ref->n + ref->stride - 1) / ref->stride;
            cp = falloc(cnt), cg = falloc(cnt);
            float *c0 = falloc(cnt);
            for (long j = 0; j < cnt; j++) {
                long k = j * ref->stride;
                c0[j] = cp[j] = p0[mt->offset + k];
                cg[j] = gr->v[k / gr->stride];
            }
            golden_tensor packed = *ref;
            packed.n = cnt, packed.stride = 1;
            if (optim_init(&o, pass == 0 ? OPT_ADAM : OPT_SGD, pass == 0 ? 1e-3f : 0.01f, cnt,
                           &err) == SW_OK) {
                optim_step(&o, cp, cg);
                optim_free(&o);
                char label[80];
                snprintf(label, sizeof label, "%s.%s from torch's grad", what, mt->name);
                report(&r, label, step_err(cp, &packed, c0, NULL));
            }
            free(cp), free(cg), free(c0);
            cp = cg = NULL;
        }
    }
    report_end(&r);
done:
    model_free(m);
    free(p0), free(g), free(work), free(tmp), free(skip);
    golden_free(c);
}

static void golden_model(const char *name) { golden_model_from("manifest.txt", name); }

static void test_golden_model_relu(void) { golden_model("model_relu"); }
static void test_golden_model_elu(void) { golden_model("model_elu"); }
static void test_golden_model_leaky_relu(void) { golden_model("model_leaky_relu"); }
static void test_golden_model_prelu(void) { golden_model("model_prelu"); }
static void test_golden_model_selu(void) { golden_model("model_selu"); }
static void test_golden_model_gelu(void) { golden_model("model_gelu"); }
static void test_golden_model_silu(void) { golden_model("model_silu"); }
static void test_golden_model_mish(void) { golden_model("model_mish"); }
static void test_golden_model_tanh(void) { golden_model("model_tanh"); }
static void test_golden_model_softplus(void) { golden_model("model_softplus"); }
/* 3 planar channels on 32x32 (tools/torch_golden_train.py, torch.nn layers) */
static void test_golden_model_rgb32(void)
{
    golden_model_from("manifest_train.txt", "model_rgb32");
}

void suite_golden(void)
{
    RUN_TEST(test_golden_formula);
    RUN_TEST(test_golden_conv_ic2);
    RUN_TEST(test_golden_conv_ic1);
    RUN_TEST(test_golden_conv_rect);
    RUN_TEST(test_golden_maxpool);
    RUN_TEST(test_golden_maxpool_rect);
    RUN_TEST(test_golden_maxpool_ties);
    RUN_TEST(test_golden_dense);
    RUN_TEST(test_golden_relu);
    RUN_TEST(test_golden_elu);
    RUN_TEST(test_golden_elu07);
    RUN_TEST(test_golden_leaky);
    RUN_TEST(test_golden_prelu);
    RUN_TEST(test_golden_prelu_var);
    RUN_TEST(test_golden_smooth);
    RUN_TEST(test_golden_xent);
    RUN_TEST(test_golden_model_relu);
    RUN_TEST(test_golden_model_elu);
    RUN_TEST(test_golden_model_leaky_relu);
    RUN_TEST(test_golden_model_prelu);
    RUN_TEST(test_golden_model_selu);
    RUN_TEST(test_golden_model_gelu);
    RUN_TEST(test_golden_model_silu);
    RUN_TEST(test_golden_model_mish);
    RUN_TEST(test_golden_model_tanh);
    RUN_TEST(test_golden_model_softplus);
    RUN_TEST(test_golden_model_rgb32);
}
