/* Follows com.threatstop.DDR1 on the system bus: properties, the name coming and going,
 * the calls the menu makes, and whether polkit would let this user pause. */
#pragma once

#include <gio/gio.h>

#include "ddr-indicator-model.h"

G_BEGIN_DECLS

typedef struct _DdrIndicatorDaemon DdrIndicatorDaemon;

/* Called after anything the model depends on changed (properties, owner, polkit). */
typedef void (*DdrIndicatorDaemonChanged) (gpointer user_data);
/* A call's outcome: NULL sentence = done; else one translated sentence why not. */
typedef void (*DdrIndicatorCallDone) (const char *sentence, gpointer user_data);

DdrIndicatorDaemon *ddr_indicator_daemon_new    (DdrIndicatorDaemonChanged changed,
                                                 gpointer                  user_data);
void                ddr_indicator_daemon_free   (DdrIndicatorDaemon       *daemon);

/* Fills the daemon's part of in; the strings stay owned by the daemon object and are
 * valid until the next change callback. */
void                ddr_indicator_daemon_fill   (DdrIndicatorDaemon       *daemon,
                                                 DdrIndicatorInput        *in);
/* A string property, "" when unknown. */
const char         *ddr_indicator_daemon_string (DdrIndicatorDaemon       *daemon,
                                                 const char               *name);
guint64             ddr_indicator_daemon_uint64 (DdrIndicatorDaemon       *daemon,
                                                 const char               *name);

/* Ask polkit again (no interaction) whether Pause/Resume would be allowed. */
void                ddr_indicator_daemon_recheck (DdrIndicatorDaemon      *daemon);

/* Pause(minutes) / Resume() / Reprobe(); Pause and Resume may make the desktop's
 * polkit agent ask for a password. */
void                ddr_indicator_daemon_call   (DdrIndicatorDaemon       *daemon,
                                                 const char               *method,
                                                 GVariant                 *parameters,
                                                 DdrIndicatorCallDone      done,
                                                 gpointer                  user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrIndicatorDaemon, ddr_indicator_daemon_free)

G_END_DECLS
