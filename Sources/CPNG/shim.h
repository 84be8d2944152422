// libpng, for writing the reports' plots.
#include <png.h>
