/* --engine=dnsdist: the vendor's engine, configured like ours. */
#pragma once

#include <glib.h>
#include "ddr-admin-conf.h"

G_BEGIN_DECLS

#define DDR_DNSDIST_CONF "/etc/dnsdist/dnsdist.conf"

/* dnsdist's own "--version" text ("dnsdist 1.7.3 (Lua ...)") -> major, minor. Pure. */
gboolean ddr_admin_dnsdist_parse_version (const char *text, guint *major, guint *minor);
/* The installed dnsdist must be 1.7 or newer (outgoing DoH). The version text comes
 * from `dnsdist --version`, or THREATSTOP_DDR_DNSDIST_VERSION (a test seam).
 * Errors say what was found and what is needed. */
gboolean ddr_admin_dnsdist_check_version (GError **error);
/* dnsdist.conf for c; backends are the bootstrap addresses (or addresses, when the
 * caller resolved the host). */
char    *ddr_admin_dnsdist_render (const DdrInstallConfig *c, char **addresses, GError **error);
/* `dnsdist --check-config` on text (written to a temporary file). */
gboolean ddr_admin_dnsdist_check_config (const char *text, GError **error);

G_END_DECLS
