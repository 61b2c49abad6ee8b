/* The CLI's side of com.threatstop.DDR1: calls without auto-start, errors as sentences. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _DdrAdminClient DdrAdminClient;

/* NULL with a printed sentence when the system bus is unreachable. */
DdrAdminClient *ddr_admin_client_new            (void);
void            ddr_admin_client_free           (DdrAdminClient *client);

/* Every property of the interface as an a{sv}; NULL after printing why. */
GVariant       *ddr_admin_client_get_properties (DdrAdminClient *client);
/* FALSE when nobody owns the daemon's bus name (the daemon is not running). */
gboolean        ddr_admin_client_daemon_running (DdrAdminClient *client);
/* GetStatistics()'s a{sv}; NULL after printing why. */
GVariant       *ddr_admin_client_get_statistics (DdrAdminClient *client);
/* A method without results; privileged ones may ask the user through polkit.
 * Returns an exit code (0 ok, 1 refused or failed) after printing why. */
int             ddr_admin_client_call           (DdrAdminClient *client,
                                                 const char     *method,
                                                 GVariant       *parameters);

/* Typed lookups in an a{sv} with defaults for missing keys. */
const char     *ddr_admin_lookup_string (GVariant *dict, const char *key);
gboolean        ddr_admin_lookup_bool   (GVariant *dict, const char *key);
guint64         ddr_admin_lookup_uint   (GVariant *dict, const char *key);

/* A string from the daemon as a terminal may show it: control and format characters
 * escaped (\n, \xNN, \uNNNN), a backslash doubled. */
char           *ddr_admin_printable     (const char *s);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrAdminClient, ddr_admin_client_free)

G_END_DECLS
