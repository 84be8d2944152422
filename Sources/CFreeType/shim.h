// FreeType, for the text of the reports' plots (with the DejaVu fonts).
#include <ft2build.h>
#include FT_FREETYPE_H
#include FT_GLYPH_H
