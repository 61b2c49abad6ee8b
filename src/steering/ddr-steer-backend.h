/* The interface every DNS steering backend implements (networkmanager, resolved, resolv.conf). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define DDR_TYPE_STEER_BACKEND (ddr_steer_backend_get_type ())
G_DECLARE_DERIVABLE_TYPE (DdrSteerBackend, ddr_steer_backend, DDR, STEER_BACKEND, GObject)

struct _DdrSteerBackendClass {
  GObjectClass parent_class;

  const char *name;
  /* Finish with a GTask (source object: the backend) that returns a boolean. */
  void (*set_async) (DdrSteerBackend     *self,
                     gboolean             on,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data);
  /* Optional: the steering was found undone where the backend cannot see it; the
   * next set(TRUE) repairs what it can. */
  void (*mark_undone) (DdrSteerBackend *self);
};

/* Signal "lost" (const char *why): steering the backend applied was undone by someone
 * else (a profile deactivated, a link reverted, the file rewritten). Each backend watches
 * what it steered and emits it at once, at most once per successful "on"; the owner
 * decides whether to steer again. Never emitted for the backend's own changes. */

/* The base class itself is the "none" backend: every set succeeds and changes nothing. */
DdrSteerBackend *ddr_steer_backend_new_none  (void);
const char      *ddr_steer_backend_get_name  (DdrSteerBackend *self);
void             ddr_steer_backend_set_async (DdrSteerBackend     *self,
                                              gboolean             on,
                                              GCancellable        *cancellable,
                                              GAsyncReadyCallback  callback,
                                              gpointer             user_data);
gboolean         ddr_steer_backend_set_finish (DdrSteerBackend *self,
                                               GAsyncResult    *result,
                                               GError         **error);
/* For the backends: log and emit "lost". */
void             ddr_steer_backend_report_lost (DdrSteerBackend *self, const char *why);

G_END_DECLS
