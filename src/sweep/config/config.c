/* config.c: the public API of the config loader: read a file, parse its
 * text, free the result. The files of this folder are listed in
 * config_internal.h.
 *
 * Limits: files up to CONFIG_MAX_BYTES, nesting up to MAX_DEPTH, at most
 * MAX_NODES YAML nodes, AXIS_MAX_VALUES values per axis, GRID_MAX_RUNS
 * runs, MAX_EXCLUDE exclude rules. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_internal.h"

int config_parse(sweep_config *c, const char *text, size_t len, const char *path,
                 sw_error *err)
{
    parser p = {path ? path : "<config>", err, 0};
    ynode *root = NULL;
    int rc;

    memset(c, 0, sizeof *c);
    if (!text)
        len = 0;
    if (len > (size_t)CONFIG_MAX_BYTES)
        return sw_err(err, SW_EINPUT, "%s: the config is larger than %ld MiB", p.path,
                      CONFIG_MAX_BYTES >> 20);
    c->path = strdup(p.path);
    c->text = malloc(len + 1);
    if (!c->path || !c->text) {
        rc = cfg_oom(&p);
        goto done;
    }
    if (len)
        memcpy(c->text, text, len);
    c->text[len] = '\0';
    rc = cfg_load_tree(&p, c->text, len, &root);
    if (rc == 0)
        rc = cfg_parse_top(&p, root, c);
done:
    cfg_tree_free(root);
    if (rc)
        config_free(c);
    return rc;
}

int config_load(sweep_config *c, const char *path, sw_error *err)
{
    memset(c, 0, sizeof *c);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sw_err(err, SW_EINPUT, "%s: cannot read: %s", path, strerror(errno));
    /* Read one byte past the limit so that config_parse can refuse it. */
    size_t len = 0, cap = 0;
    char *buf = NULL;
    int rc = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *nb = len > (size_t)CONFIG_MAX_BYTES ? NULL : realloc(buf, ncap);
            if (!nb) {
                if (len > (size_t)CONFIG_MAX_BYTES)
                    break;
                parser p = {path, err, 0};
                rc = cfg_oom(&p);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = sw_err(err, SW_EINPUT, "%s: cannot read: %s", path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    if (rc == 0)
        rc = config_parse(c, buf, len, path, err);
    free(buf);
    return rc;
}

void config_free(sweep_config *c)
{
    if (!c)
        return;
    for (int a = 0; a < AXIS_COUNT; a++)
        free(c->axis[a].v);
    for (int k = 0; k < ACT_COUNT; k++)
        free(c->alphas[k].v);
    for (int i = 0; i < c->n_warnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    free(c->exclude);
    free(c->models);
    free(c->schedules);
    free(c->name);
    free(c->data_dir);
    free(c->path);
    free(c->text);
    memset(c, 0, sizeof *c);
}
