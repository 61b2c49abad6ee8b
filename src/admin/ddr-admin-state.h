/* install.state: what --action=install created or changed, so uninstall undoes exactly that. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _DdrInstallState DdrInstallState;

/* Loads <root>/DDR_SYSCONFDIR/install.state; an empty state when there is none
 * (*existed tells which). */
DdrInstallState *ddr_install_state_load  (const char *root, gboolean *existed, GError **error);
DdrInstallState *ddr_install_state_new   (const char *root);
void             ddr_install_state_free  (DdrInstallState *state);
gboolean         ddr_install_state_save  (DdrInstallState *state, GError **error);
/* Removes install.state (and the directories it created when they are empty). */
gboolean         ddr_install_state_remove_file (DdrInstallState *state, GError **error);

/* Lists of strings under [install]: created, replaced, dirs, enabled, disabled, restart. */
void         ddr_install_state_add      (DdrInstallState *state, const char *list, const char *value);
gboolean     ddr_install_state_has      (DdrInstallState *state, const char *list, const char *value);
char       **ddr_install_state_list     (DdrInstallState *state, const char *list);
void         ddr_install_state_set      (DdrInstallState *state, const char *key, const char *value);
const char  *ddr_install_state_get      (DdrInstallState *state, const char *key);
/* Adds everything of other to state (lists merged without duplicates). */
void         ddr_install_state_merge    (DdrInstallState *state, DdrInstallState *other);

/* Writes path (a system path; written under the state's root) atomically with mode.
 * The first time install touches a path that already exists, its content is saved
 * so uninstall can put it back; paths and new directories are recorded in run.
 * known: the state of earlier installs (so a re-install updates in place). */
gboolean ddr_install_state_write (DdrInstallState *run, DdrInstallState *known, const char *path,
                                  const char *contents, gssize len, int mode, GError **error);
/* Undoes the files and directories of state, newest first: created files are
 * removed, replaced files get their saved content back, created directories are
 * removed when empty. Reports each step on stdout. */
gboolean ddr_install_state_undo_files (DdrInstallState *state, GError **error);

/* Puts back everything run changed: its files as undo_files() does, files it
 * rewrote for an earlier install get their content of before this run, and
 * install.state becomes known_before (NULL: removed). */
gboolean ddr_install_state_rollback (DdrInstallState *run, const char *known_before,
                                     GError **error);
char    *ddr_install_state_to_data  (DdrInstallState *state);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrInstallState, ddr_install_state_free)

G_END_DECLS
