#include <stdio.h>
int main(void) { fprintf(stderr, "sweep: not yet\n"); return 2; }
