/* Asks polkit (org.freedesktop.PolicyKit1) whether a bus caller may do an action, async. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Checks action_id for the caller with unique bus name sender, without blocking.
 * interactive lets polkit ask the user through an authentication agent. */
void     ddr_polkit_check_async  (GDBusConnection     *connection,
                                  const char          *sender,
                                  const char          *action_id,
                                  gboolean             interactive,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
/* TRUE when authorised; otherwise FALSE with DDR_ERROR_NOT_AUTHORIZED
 * (or G_IO_ERROR_CANCELLED). */
gboolean ddr_polkit_check_finish (GAsyncResult        *result,
                                  GError             **error);

G_END_DECLS
