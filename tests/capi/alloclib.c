/* A library that allocates when loaded and frees when unloaded (dlopen/dlclose test). */
#include <stdlib.h>
#include <string.h>
static char *held;
__attribute__((constructor)) static void load(void) { held = strdup("loaded"); }
__attribute__((destructor)) static void unload(void) { free(held); }
void *lib_alloc(size_t n) { return calloc(1, n); }
