#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>

int sw_err(sw_error *err, int code, const char *fmt, ...)
{
    if (!err || err->code != SW_OK)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int sw_oom(sw_error *err, const char *what)
{
    return sw_err(err, SW_ERUN, "%s: out of memory", what);
}
