/* Placeholder until the store tests land. */
#include "test.h"

void suite_store(void) {}
