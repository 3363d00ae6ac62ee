/* Placeholder until `sweep plot` lands. */
#include "cli.h"

int cmd_plot(int argc, char **argv, sw_error *err)
{
    (void)argc;
    (void)argv;
    return sw_err(err, SW_EINPUT, "sweep plot: not implemented yet");
}
