/* Install flags checked the daemon's way, and the ddr.conf they make. */
#pragma once

#include <glib.h>
#include "ddr-admin-install.h"

G_BEGIN_DECLS

typedef struct {
  char   **listen;        /* "IP:PORT" / "[IP]:PORT" */
  char   **acl;           /* given, or the private-networks default */
  gboolean default_acl;   /* the default was applied (beyond loopback, no --acl) */
  char    *url;
  char    *check_domain;  /* NULL when not given */
  char   **bootstrap;     /* NULL when not given */
  char    *ca_file;       /* NULL when not given */
  gboolean wildcard_53;   /* some listen address is 0.0.0.0:53 or [::]:53 */
  gboolean lan_only;      /* no 127.0.0.1:53 (nor 0.0.0.0:53): a forwarder, roaming off */
} DdrInstallConfig;

/* Every flag checked before anything is written; the error is one sentence that
 * names the flag, the bad value and the expected form. */
gboolean ddr_admin_conf_validate (const DdrInstallOptions *o, DdrInstallConfig *out,
                                  GError **error);
void     ddr_admin_conf_clear    (DdrInstallConfig *c);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DdrInstallConfig, ddr_admin_conf_clear)

/* ddr.conf's new text: existing (may be NULL) with the install's keys replaced and
 * every other setting kept; checked with the daemon's own loader. */
char    *ddr_admin_conf_render   (const DdrInstallConfig *c, const char *existing,
                                  GError **error);

G_END_DECLS
