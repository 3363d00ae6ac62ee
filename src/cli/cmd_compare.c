/* Placeholder until `sweep compare` lands. */
#include "cli.h"

int cmd_compare(int argc, char **argv, sw_error *err)
{
    (void)argc;
    (void)argv;
    return sw_err(err, SW_EINPUT, "sweep compare: not implemented yet");
}
