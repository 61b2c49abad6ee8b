/* The daemon's core: configuration, the relay, the published state, reload. No bus I/O. */
#pragma once

#include <gio/gio.h>
#include "ddr-dbus-generated.h"

G_BEGIN_DECLS

#define DDR_TYPE_MANAGER (ddr_manager_get_type ())
G_DECLARE_FINAL_TYPE (DdrManager, ddr_manager, DDR, MANAGER, GObject)

/* Loads the configuration and binds the relay. On error *bad_config says whether the
 * configuration was at fault (exit 2) or the system (exit 1, e.g. cannot bind). */
DdrManager    *ddr_manager_new            (const char *config_path,
                                           const char *state_dir,
                                           gboolean   *bad_config,
                                           GError    **error);

/* The object whose properties are the D-Bus properties; it is a plain GObject until
 * ddr-dbus-service exports it. */
DdrGenService *ddr_manager_get_service    (DdrManager *self);
/* Leaves "starting": follows NetworkManager and steers the system DNS when the
 * configuration ([roaming] enabled=auto|true) and the bus (not --no-bus) allow it;
 * otherwise the daemon is a forwarder from now on. */
void           ddr_manager_start          (DdrManager *self, gboolean bus);
const char    *ddr_manager_get_summary    (DdrManager *self);

/* Re-reads the configuration (SIGHUP and Reload()). On error the running
 * configuration stays, LastError says why, and the error is DDR_ERROR_FAILED. */
gboolean       ddr_manager_reload         (DdrManager *self, GError **error);
GVariant      *ddr_manager_get_statistics (DdrManager *self);
void           ddr_manager_log_statistics (DdrManager *self);
void           ddr_manager_network_event  (DdrManager *self, const char *action,
                                           const char *iface, guint n_env);
void           ddr_manager_reprobe        (DdrManager *self);
gboolean       ddr_manager_pause          (DdrManager *self, guint minutes, GError **error);
gboolean       ddr_manager_resume         (DdrManager *self, GError **error);

G_END_DECLS
