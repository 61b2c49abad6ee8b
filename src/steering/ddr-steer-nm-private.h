/* Inside the networkmanager backend: its state, shared by the set steps (ddr-steer-nm.c)
 * and the watch on what it steered (ddr-steer-nm-watch.c). */
#pragma once

#include "ddr-steer-private.h"

G_BEGIN_DECLS

/* NMActiveConnectionState: ACTIVATING, ACTIVATED count as on. */
#define AC_UNKNOWN        0
#define AC_ACTIVATING     1
#define AC_ACTIVATED      2
#define AC_DEACTIVATING   3

/* Does this NM have AddAndActivateConnection2 with bind-activation (probed once)? */
typedef enum {
  BIND_UNKNOWN,
  BIND_YES,
  BIND_NO,
} BindState;

struct _DdrSteerNm {
  DdrSteerBackend parent;
  GDBusConnection *bus;
  DdrSteerLinkType link;
  char *profile;        /* settings path of the anchor; NULL = not known */
  char *active;         /* the anchor's active connection; NULL = none known */
  char *bound;          /* the bound activation's active connection; NULL = none known */
  gboolean anchor_dns;  /* the anchor's settings steer DNS (dummy, or the plain path) */
  BindState bind;
  gboolean cleaned;     /* stale profiles removed (first use in this process) */
  gboolean busy;        /* a set call is running: what NM does meanwhile is ours */
  gboolean reload_rc;   /* resolv.conf was found rewritten: NM writes it on the next on */
  guint watch_id;
  guint removed_id;
  guint state_id;       /* StateChanged of active connections */
  guint active_list_id; /* the manager's ActiveConnections */
  char *first_refusal;  /* NM's words when it first refused since the last success: a
                         * link it cannot create says why only once */
};

/* Follow NM (its bus name, our profile's removal, the end of our activation) from
 * construction to dispose. */
void ddr_steer_nm_watch   (DdrSteerNm *self);
void ddr_steer_nm_unwatch (DdrSteerNm *self);

G_END_DECLS
