/* test_golden_train.c: batch norm, same padding, the optimizer rules and
 * the learning-rate schedules against PyTorch.
 *
 * tools/torch_golden_train.py writes tests/golden/manifest_train.txt and
 * its <case>.bin.gz files (the format of tools/torch_golden.py, read by
 * golden_io.h). Kernels: max |ours - torch| / max |torch| <= 1e-4 per
 * tensor. Optimizers: parameters after each step and the final state
 * within 1e-6 relative, and the displacement p_k - p0 within 1e-5 of
 * torch's (a stricter view: it leaves out the parameter's own size).
 * Schedules: each epoch's rate within 1e-6 relative. The whole model with
 * batch norm: as the kernels, tensor by tensor.
 * Regenerate: /usr/bin/python3 tools/torch_golden_train.py tests/golden */
#include "golden_io.h"

#include "nn/batchnorm.h"
#include "nn/conv.h"
#include "train/model.h"
#include "train/optim_rules.h"
#include "train/schedule.h"

#define TRAIN_MANIFEST "manifest_train.txt"
#define OPT_TOL 1e-6
#define OPT_DISP_TOL 1e-5

static golden_case *load(const char *name) { return golden_load_from(TRAIN_MANIFEST, name); }

/* ------------------------------------------------------------- batch norm */

static void golden_bn(const char *name)
{
    golden_report r = {name, "", 0};
    golden_case *c = load(name);
    golden_tensor *t[14];
    static const char *const names[] = {"gamma", "beta", "x1", "x2", "x3", "g", "y3", "dx",
                                        "dgamma", "dbeta", "running_mean", "running_var",
                                        "y_eval", NULL};
    if (!c || !golden_all(c, t, names))
        goto done;
    const int B = (int)golden_param(c, "B"), C = (int)golden_param(c, "C");
    const long S = (long)golden_param(c, "S"), n = B * S, N = C * n;
    float *x = falloc(N), *y = falloc(N), *g = falloc(N), *dx = falloc(N), *tmp = falloc(N);
    float *saved = falloc(2 * C), *mm = falloc(C), *mv = falloc(C);
    float *dgamma = falloc(C), *dbeta = falloc(C);
    for (int ch = 0; ch < C; ch++)
        mv[ch] = 1;   /* torch's and Keras' initial moving variance */

    for (int k = 2; k <= 4; k++) {   /* x1, x2, x3 */
        to_ours(x, t[k]->v, B, C, S);
        bn_forward_train(y, saved, mm, mv, x, t[0]->v, t[1]->v, C, n, BN_MOMENTUM, BN_EPSILON);
    }
    to_torch(tmp, y, B, C, S);
    compare(&r, "y3", tmp, t[6]);
    to_ours(g, t[5]->v, B, C, S);
    bn_backward(dx, dgamma, dbeta, g, x, t[0]->v, saved, C, n);
    to_torch(tmp, dx, B, C, S);
    compare(&r, "dx", tmp, t[7]);
    compare(&r, "dgamma", dgamma, t[8]);
    compare(&r, "dbeta", dbeta, t[9]);
    compare(&r, "running_mean", mm, t[10]);
    compare(&r, "running_var", mv, t[11]);
    to_ours(x, t[2]->v, B, C, S);
    bn_forward_eval(y, x, t[0]->v, t[1]->v, mm, mv, C, n, BN_EPSILON);
    to_torch(tmp, y, B, C, S);
    compare(&r, "y_eval", tmp, t[12]);
    report_end(&r);
    free(x), free(y), free(g), free(dx), free(tmp), free(saved), free(mm), free(mv);
    free(dgamma), free(dbeta);
done:
    golden_free(c);
}

static void test_golden_bn2d(void) { golden_bn("bn2d"); }
static void test_golden_bn2d_big(void) { golden_bn("bn2d_big"); }
static void test_golden_bn1d(void) { golden_bn("bn1d"); }

/* ---------------------------------------------------------- same padding */

static void golden_conv_same(const char *name)
{
    golden_report r = {name, "", 0};
    golden_case *c = load(name);
    golden_tensor *t[9];
    static const char *const names[] = {"x", "weight", "bias", "g", "out", "dx", "dweight",
                                        "dbias", NULL};
    if (!c || !golden_all(c, t, names))
        goto done;
    int B = (int)golden_param(c, "B"), IC = (int)golden_param(c, "IC");
    int H = (int)golden_param(c, "H"), W = (int)golden_param(c, "W");
    int OC = (int)golden_param(c, "OC");
    long S = (long)H * W, ncol = conv_col_size(B, IC, H, W, 1);
    float *x = falloc(B * IC * S), *col = falloc(ncol), *dcol = falloc(ncol);
    float *out = falloc(OC * B * S), *g = falloc(OC * B * S), *dx = falloc(B * IC * S);
    float *tmp = falloc((long)B * (IC > OC ? IC : OC) * S);
    float *dw = falloc(OC * IC * 9L), *db = falloc(OC);

    to_ours(x, t[0]->v, B, IC, S);
    conv_forward(out, col, x, t[1]->v, t[2]->v, B, IC, H, W, OC, 1);
    to_torch(tmp, out, B, OC, S);
    compare(&r, "out", tmp, t[4]);
    to_ours(g, t[3]->v, B, OC, S);
    conv_backward(dx, dcol, dw, db, g, col, t[1]->v, B, IC, H, W, OC, 1);
    to_torch(tmp, dx, B, IC, S);
    compare(&r, "dx", tmp, t[5]);
    compare(&r, "dweight", dw, t[6]);
    compare(&r, "dbias", db, t[7]);
    report_end(&r);
    free(x), free(col), free(dcol), free(out), free(g), free(dx), free(tmp), free(dw), free(db);
done:
    golden_free(c);
}

static void test_golden_conv_same_ic1(void) { golden_conv_same("conv_same_ic1"); }
static void test_golden_conv_same_ic3(void) { golden_conv_same("conv_same_ic3"); }
static void test_golden_conv_same_ic4(void) { golden_conv_same("conv_same_ic4"); }
static void test_golden_conv_same_28(void) { golden_conv_same("conv_same_28"); }
static void test_golden_conv_same_wide(void) { golden_conv_same("conv_same_wide"); }

/* ------------------------------------------------------------ optimizers */

/* max |(ours - p0) - (ref - p0)| / max |ref - p0|, in double */
static double disp_err(const float *ours, const golden_tensor *ref, const float *p0)
{
    double maxd = 0, maxu = 0;
    for (long i = 0; i < ref->n; i++) {
        double u = (double)ref->v[i] - p0[i], d = fabs(((double)ours[i] - p0[i]) - u);
        if (isnan(d) || isinf(d))
            return INFINITY;
        maxd = d > maxd ? d : maxd;
        maxu = fabs(u) > maxu ? fabs(u) : maxu;
    }
    return maxd / (maxu > 1e-12 ? maxu : 1e-12);
}

static void golden_opt(const char *name)
{
    static const char *const rules[] = {"adam", "adamw", "sgd", "rmsprop"};
    golden_report r = {name, "", 0};
    golden_case *c = load(name);
    golden_tensor *p0;
    if (!c || !(p0 = golden_get(c, "p0")))
        goto done;
    const int ri = (int)golden_param(c, "rule"), steps = (int)golden_param(c, "steps");
    const long n = (long)golden_param(c, "n");
    const optim_rule *rule = ri >= 0 && ri < 4 ? optim_rule_find(rules[ri]) : NULL;
    if (!rule || p0->n != n) {
        test_fail(__FILE__, __LINE__, "%s: bad rule %d or size", name, ri);
        goto done;
    }
    optim_hyper h;
    optim_hyper_default(&h);
    h.lr = (float)golden_param(c, "lr");
    h.beta1 = (float)golden_param(c, "beta1");
    h.beta2 = (float)golden_param(c, "beta2");
    h.rho = (float)golden_param(c, "rho");
    h.eps = (float)golden_param(c, "eps");
    h.momentum = (float)golden_param(c, "momentum");
    h.weight_decay = (float)golden_param(c, "weight_decay");
    h.nesterov = (int)golden_param(c, "nesterov");
    const int states = rule->states(&h);
    float *p = falloc(n), *s0 = falloc(n), *s1 = falloc(n);
    memcpy(p, p0->v, sizeof(float) * (size_t)n);
    double worst_disp = 0;
    for (int k = 1; k <= steps; k++) {
        char gname[16], pname[16];
        snprintf(gname, sizeof gname, "g%d", k);
        snprintf(pname, sizeof pname, "p%d", k);
        golden_tensor *g = golden_get(c, gname), *ref = golden_get(c, pname);
        if (!g || !ref)
            break;
        rule->step(p, states & 1 ? s0 : NULL, states & 2 ? s1 : NULL, g->v, n, &h, k);
        compare_tol(&r, pname, p, ref, OPT_TOL);
        double e = disp_err(p, ref, p0->v);
        worst_disp = e > worst_disp ? e : worst_disp;
        CHECK_MSG(e <= OPT_DISP_TOL, "%s: %s - p0: relative error %.3g > %g", name, pname, e,
                  OPT_DISP_TOL);
    }
    for (int s = 0; s < 2; s++) {   /* the states torch keeps, where it keeps one */
        const char *sname = s ? "s1" : "s0";
        int stored = 0;
        for (int i = 0; i < c->n_tensors; i++)
            stored |= strcmp(c->t[i].name, sname) == 0;
        CHECK_MSG(stored == !!(states & (1 << s)), "%s: state %s kept by torch: %d, by us: %d",
                  name, sname, stored, !!(states & (1 << s)));
        if (stored)
            compare_tol(&r, sname, s ? s1 : s0, golden_get(c, sname), OPT_TOL);
    }
    if (verbosity() >= 1)
        printf("# golden %-18s displacement p_k - p0: relative error %.3g\n", name, worst_disp);
    report_end_tol(&r, OPT_TOL);
    free(p), free(s0), free(s1);
done:
    golden_free(c);
}

static void test_golden_opt_adam(void) { golden_opt("opt_adam"); }
static void test_golden_opt_adam_wd(void) { golden_opt("opt_adam_wd"); }
static void test_golden_opt_adamw(void) { golden_opt("opt_adamw"); }
static void test_golden_opt_sgd(void) { golden_opt("opt_sgd"); }
static void test_golden_opt_sgd_momentum(void) { golden_opt("opt_sgd_momentum"); }
static void test_golden_opt_sgd_nesterov(void) { golden_opt("opt_sgd_nesterov"); }
static void test_golden_opt_rmsprop(void) { golden_opt("opt_rmsprop"); }
static void test_golden_opt_rmsprop_momentum(void) { golden_opt("opt_rmsprop_momentum"); }

/* ------------------------------------------------------------- schedules */

static void golden_sched(const char *name)
{
    static const char *const kinds[] = {"constant", "step", "cosine"};
    golden_report r = {name, "", 0};
    golden_case *c = load(name);
    golden_tensor *lr;
    if (!c || !(lr = golden_get(c, "lr")))
        goto done;
    const int ki = (int)golden_param(c, "kind"), epochs = (int)golden_param(c, "epochs");
    lr_schedule s = {SCHED_CONSTANT, (int)golden_param(c, "every"), golden_param(c, "gamma")};
    const int kind = ki >= 0 && ki < 3 ? sched_from_name(kinds[ki]) : -1;
    if (kind < 0 || lr->n != epochs) {
        test_fail(__FILE__, __LINE__, "%s: bad kind %d or size", name, ki);
        goto done;
    }
    s.kind = (sched_kind)kind;
    float *ours = falloc(epochs);
    for (int e = 0; e < epochs; e++)
        ours[e] = (float)lr_at(&s, golden_param(c, "base"), e, epochs);
    compare_tol(&r, "lr", ours, lr, OPT_TOL);
    /* each epoch on its own scale, not only against the largest rate */
    for (int e = 0; e < epochs; e++)
        CHECK_MSG(fabs(ours[e] - lr->v[e]) <= OPT_TOL * fabs(lr->v[e]),
                  "%s: epoch %d: %.9g vs torch %.9g", name, e, ours[e], lr->v[e]);
    report_end_tol(&r, OPT_TOL);
    free(ours);
done:
    golden_free(c);
}

static void test_golden_sched_step(void) { golden_sched("sched_step"); }
static void test_golden_sched_step1(void) { golden_sched("sched_step1"); }
static void test_golden_sched_cosine(void) { golden_sched("sched_cosine"); }
static void test_golden_sched_cosine7(void) { golden_sched("sched_cosine7"); }

/* ------------------------------------------------- the model with batch norm */

/* max |ours - ref| over scale. */
static double abs_err(const float *ours, const golden_tensor *ref, double scale)
{
    double maxd = 0;
    for (long i = 0; i < ref->n; i++) {
        double d = fabs((double)ours[i] - ref->v[i]);
        if (isnan(d) || isinf(d))
            return INFINITY;
        maxd = d > maxd ? d : maxd;
    }
    return maxd / scale;
}

/* The gradients: tensor by tensor, relative to the tensor's largest;
 * a bias followed by batch norm has a gradient that is 0 but for
 * rounding, measured against the largest gradient of the model instead. */
static void model_bn_grads(golden_report *r, golden_case *c, model *m)
{
    double scale = 1e-12;
    int nt = model_num_tensors(m);
    for (int i = 0; i < nt; i++) {
        char name[64];
        snprintf(name, sizeof name, "grad.%s", model_tensor_at(m, i)->name);
        golden_tensor *g = golden_get(c, name);
        for (long k = 0; g && k < g->n; k++)
            scale = fmax(scale, fabs(g->v[k]));
    }
    for (int i = 0; i < nt; i++) {
        const model_tensor *mt = model_tensor_at(m, i);
        char name[64];
        snprintf(name, sizeof name, "grad.%s", mt->name);
        golden_tensor *g = golden_get(c, name);
        if (!g || g->n != mt->size) {
            test_fail(__FILE__, __LINE__, "%s: no gradient of %s", r->case_name, mt->name);
            continue;
        }
        int cancelled = strcmp(mt->name, "out.bias") != 0 && strstr(mt->name, ".bias");
        if (cancelled)
            report(r, name, abs_err(model_grads(m) + mt->offset, g, scale));
        else
            compare(r, name, model_grads(m) + mt->offset, g);
    }
}

static void golden_model_bn(const char *name)
{
    golden_report r = {name, "", 0};
    golden_case *c = load(name);
    golden_tensor *t[10];
    static const char *const names[] = {"x1", "x2", "x3", "labels", "logits", "loss",
                                        "bn_state", "logits_eval", NULL};
    model *m = NULL;
    sw_error err = {0};
    if (!c || !golden_all(c, t, names))
        goto done;
    int B = (int)golden_param(c, "B"), K = 10, correct = -1;
    model_spec s;
    model_spec_default(&s);
    s.in_h = s.in_w = 12;
    s.shape.conv[0] = 4, s.shape.conv[1] = 8, s.shape.dense[0] = 16;
    s.shape.same = (int)golden_param(c, "same");
    s.act = (act_kind)golden_param(c, "act");
    s.alpha = (float)golden_param(c, "alpha");
    s.dropout = 0;
    s.batchnorm = 1;
    if (model_create(&m, &s, B, &err) != SW_OK) {
        test_fail(__FILE__, __LINE__, "%s: model_create: %s", name, err.msg);
        goto done;
    }
    for (int i = 0; i < model_num_tensors(m); i++) {
        const model_tensor *mt = model_tensor_at(m, i);
        golden_tensor *gt = golden_get(c, mt->name);
        if (!gt || gt->n != mt->size || gt != &c->t[i]) {
            test_fail(__FILE__, __LINE__, "%s: tensor %d '%s' is not torch's", name, i,
                      mt->name);
            goto done;
        }
        memcpy(model_params(m) + mt->offset, gt->v, sizeof(float) * (size_t)mt->size);
    }
    uint8_t labels[64];
    for (int b = 0; b < B && b < 64; b++)
        labels[b] = (uint8_t)t[3]->v[b];
    float tmp[640];
    model_forward(m, t[0]->v, B, 1, 0, 0);
    to_torch(tmp, model_logits(m), B, K, 1);
    compare(&r, "logits", tmp, t[4]);
    float loss = (float)(model_loss(m, labels, B, &correct, 1) / B);
    compare(&r, "loss (mean)", &loss, t[5]);
    CHECK_INT(correct, golden_param(c, "correct"));
    model_bn_grads(&r, c, m);
    model_forward(m, t[1]->v, B, 1, 0, 1);
    model_forward(m, t[2]->v, B, 1, 0, 2);
    CHECK_INT(model_bn_state_size(m), t[6]->n);
    if (model_bn_state_size(m) == t[6]->n)
        compare(&r, "bn_state (moving statistics)", model_bn_state(m), t[6]);
    model_forward(m, t[0]->v, B, 0, 0, 0);
    to_torch(tmp, model_logits(m), B, K, 1);
    compare(&r, "logits_eval", tmp, t[7]);
    report_end(&r);
done:
    model_free(m);
    golden_free(c);
}

static void test_golden_model_bn_same(void) { golden_model_bn("model_bn_same"); }
static void test_golden_model_bn_valid(void) { golden_model_bn("model_bn_valid"); }

void suite_golden_train(void)
{
    RUN_TEST(test_golden_bn2d);
    RUN_TEST(test_golden_bn2d_big);
    RUN_TEST(test_golden_bn1d);
    RUN_TEST(test_golden_conv_same_ic1);
    RUN_TEST(test_golden_conv_same_ic3);
    RUN_TEST(test_golden_conv_same_ic4);
    RUN_TEST(test_golden_conv_same_28);
    RUN_TEST(test_golden_conv_same_wide);
    RUN_TEST(test_golden_opt_adam);
    RUN_TEST(test_golden_opt_adam_wd);
    RUN_TEST(test_golden_opt_adamw);
    RUN_TEST(test_golden_opt_sgd);
    RUN_TEST(test_golden_opt_sgd_momentum);
    RUN_TEST(test_golden_opt_sgd_nesterov);
    RUN_TEST(test_golden_opt_rmsprop);
    RUN_TEST(test_golden_opt_rmsprop_momentum);
    RUN_TEST(test_golden_sched_step);
    RUN_TEST(test_golden_sched_step1);
    RUN_TEST(test_golden_sched_cosine);
    RUN_TEST(test_golden_sched_cosine7);
    RUN_TEST(test_golden_model_bn_same);
    RUN_TEST(test_golden_model_bn_valid);
}
