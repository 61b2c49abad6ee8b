/* --action=install / --action=uninstall: the vendor-compatible set-up of the relay. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char   **listen;        /* --listen, as given (at least one for install) */
  char    *url;
  char   **acl;
  char    *check_domain;
  char    *bootstrap;     /* "IP[,IP]" */
  char    *ca_file;
  char    *engine;        /* ddr (default) | dnsdist */
  char    *resolved;      /* stub-off (default) | disable */
  char    *llmnr;         /* off (default) | keep */
  char    *root;          /* NULL: the real system */
  gboolean yes;
} DdrInstallOptions;

/* The install/uninstall flags, stored into o (for the CLI's main entries). */
const GOptionEntry *ddr_admin_install_option_entries (DdrInstallOptions *o);
/* Flags that do not go with action, or a --root that is no directory: a message
 * and FALSE. Makes o->root absolute. */
gboolean ddr_admin_install_options_check (DdrInstallOptions *o, const char *action);
void     ddr_admin_install_options_clear (DdrInstallOptions *o);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DdrInstallOptions, ddr_admin_install_options_clear)

/* Both return the CLI's exit code (0, 1 runtime failure, 2 bad input). */
int ddr_admin_install   (const DdrInstallOptions *o);
int ddr_admin_uninstall (const DdrInstallOptions *o);

/* root + path ("/etc/x" -> "DIR/etc/x"); path itself when root is NULL. */
char    *ddr_admin_path (const char *root, const char *path);
/* A yes/no question: --yes answers yes; without a terminal the answer is no and a
 * sentence says to add --yes. */
gboolean ddr_admin_ask  (gboolean yes, const char *question);

G_END_DECLS
