/* Placeholder until the data tests land. */
#include "test.h"

void suite_data(void) {}
