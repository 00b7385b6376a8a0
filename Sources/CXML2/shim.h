// libxml2 for prefkit. Debian builds libxml2 with ICU, and its encoding.h then includes the system
// ICU headers, whose types clash with Foundation's own ICU module in any Swift module that sees
// both. The ICU part of those headers only adds two trailing pointer fields to
// xmlCharEncodingHandler, which prefkit never uses, so it is switched off here.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/xmlreader.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
