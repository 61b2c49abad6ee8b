/* The unit and dispatcher script install puts in place (and from where); config temp files. */
#pragma once

#include <glib.h>
#include "ddr-admin-state.h"

G_BEGIN_DECLS

#define DDR_UNIT_NAME        "threatstop-ddr.service"
#define DDR_UNIT_ETC         "/etc/systemd/system/" DDR_UNIT_NAME
#define DDR_DISPATCHER_NAME  "90-threatstop-ddr"
#define DDR_DISPATCHER_ETC   "/etc/NetworkManager/dispatcher.d/" DDR_DISPATCHER_NAME

typedef struct {
  char *unit_source;        /* a file to copy to DDR_UNIT_ETC; NULL: already installed */
  char *dispatcher_source;  /* a file to copy to DDR_DISPATCHER_ETC; NULL: nothing to copy */
  gboolean need_dispatcher; /* NetworkManager is there (else the script is pointless) */
  gboolean unit_copied;
} DdrInstallFiles;

/* Finds what is installed under root already (the package's files under /usr/lib are
 * only enabled) and what must be copied. FALSE (error) when there is no unit anywhere. */
gboolean ddr_admin_files_find  (const char *root, DdrInstallFiles *files, GError **error);
/* Copies what find() said, recording it in run. */
gboolean ddr_admin_files_copy  (const char *root, DdrInstallFiles *files, DdrInstallState *run,
                                DdrInstallState *known, GError **error);
void     ddr_admin_files_clear (DdrInstallFiles *files);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (DdrInstallFiles, ddr_admin_files_clear)

/* Writes text to a new temporary file (tmpl as for g_file_open_tmp) for a checker to
 * read: returns its path, which the caller unlinks; NULL (error) if it cannot. */
char    *ddr_admin_files_write_tmp (const char *tmpl, const char *text, GError **error);

G_END_DECLS
