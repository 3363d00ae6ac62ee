/* Placeholder until the config tests land. */
#include "test.h"

void suite_config(void) {}
