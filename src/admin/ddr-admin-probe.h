/* install's endpoint test: one DoH query straight to the URL (the vendor's curl --doh-url step). */
#pragma once

#include <glib.h>
#include "ddr-admin-conf.h"

G_BEGIN_DECLS

/* An A query for name over DoH with the daemon's own DoH client; TRUE on NOERROR
 * with at least one address (put in *address as text). Errors say why. */
gboolean ddr_admin_doh_probe (const DdrInstallConfig *c, const char *name, char **address,
                              GError **error);

G_END_DECLS
