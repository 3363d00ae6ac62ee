/* Placeholder until `sweep merge` and `sweep slurm` land. */
#include "cli.h"

int cmd_merge(int argc, char **argv, sw_error *err)
{
    (void)argc;
    (void)argv;
    return sw_err(err, SW_EINPUT, "sweep merge: not implemented yet");
}

int cmd_slurm(int argc, char **argv, sw_error *err)
{
    (void)argc;
    (void)argv;
    return sw_err(err, SW_EINPUT, "sweep slurm: not implemented yet");
}
