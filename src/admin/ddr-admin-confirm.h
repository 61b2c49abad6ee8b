/* install's last step: the check-domain through the relay, then the daemon's own word that it protects. */
#pragma once

#include <glib.h>

#include "ddr-admin-conf.h"

G_BEGIN_DECLS

/* 0 when the check-domain resolves through the relay (if there is one) and, for the
 * ddr engine, the daemon's State becomes protected, forwarding or trusted within 20 s;
 * else 1 after printing the daemon's State, Reason and LastError. */
int ddr_admin_confirm (const DdrInstallConfig *c, gboolean dnsdist);

G_END_DECLS
