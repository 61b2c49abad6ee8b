/* Inside the steering library: the backends, their restore functions and the record. */
#pragma once

#include "ddr-steer.h"
#include "ddr-steer-backend.h"

G_BEGIN_DECLS

#define DDR_STEER_VETH_PEER "ddr0p"
#define DDR_NM_BUS_NAME     "org.freedesktop.NetworkManager"
#define DDR_RESOLVED_BUS_NAME "org.freedesktop.resolve1"

/* NetworkManager's objects and interfaces, for the networkmanager backend's files. */
#define NM_PATH          "/org/freedesktop/NetworkManager"
#define NM_IFACE         "org.freedesktop.NetworkManager"
#define SETTINGS_PATH    "/org/freedesktop/NetworkManager/Settings"
#define SETTINGS_IFACE   "org.freedesktop.NetworkManager.Settings"
#define CONNECTION_IFACE "org.freedesktop.NetworkManager.Settings.Connection"
#define ACTIVE_IFACE     "org.freedesktop.NetworkManager.Connection.Active"
#define PROPS_IFACE      "org.freedesktop.DBus.Properties"
/* How long a steering call waits for NM or resolved at most. */
#define CALL_TIMEOUT_MS  15000

/* THREATSTOP_DDR_STEER_LINK: the owned link is dummy (default) or a veth pair. */
typedef enum {
  DDR_STEER_LINK_DUMMY,
  DDR_STEER_LINK_VETH,
} DdrSteerLinkType;

gboolean         ddr_steer_link_type_from_env (DdrSteerLinkType *type, GError **error);
gboolean         ddr_steer_bus_has_owner      (GDBusConnection *bus, const char *name);

#define DDR_TYPE_STEER_NM (ddr_steer_nm_get_type ())
G_DECLARE_FINAL_TYPE (DdrSteerNm, ddr_steer_nm, DDR, STEER_NM, DdrSteerBackend)
#define DDR_TYPE_STEER_RESOLVED (ddr_steer_resolved_get_type ())
G_DECLARE_FINAL_TYPE (DdrSteerResolved, ddr_steer_resolved, DDR, STEER_RESOLVED, DdrSteerBackend)
#define DDR_TYPE_STEER_RESOLVCONF (ddr_steer_resolvconf_get_type ())
G_DECLARE_FINAL_TYPE (DdrSteerResolvconf, ddr_steer_resolvconf, DDR, STEER_RESOLVCONF,
                      DdrSteerBackend)

DdrSteerBackend *ddr_steer_nm_new         (GDBusConnection *bus, DdrSteerLinkType link);
/* The owned NM profiles' settings (a{sa{sv}}): the anchor (UUID DDR_STEER_NM_UUID; it
 * steers DNS only when steering is TRUE) and the bound activation (UUID
 * DDR_STEER_NM_BOUND_UUID, no veth peer: it takes over the anchor's link). */
GVariant        *ddr_steer_nm_anchor_settings (DdrSteerLinkType link, gboolean steering);
GVariant        *ddr_steer_nm_bound_settings  (DdrSteerLinkType link);
/* Add and activate the bound profile on ddr0 (an inactive bound profile left over
 * is deleted first); finishes with the active connection's path. */
void             ddr_steer_nm_bind_async      (GDBusConnection     *bus,
                                               DdrSteerLinkType     link,
                                               GCancellable        *cancellable,
                                               GAsyncReadyCallback  callback,
                                               gpointer             user_data);
char            *ddr_steer_nm_bind_finish     (GAsyncResult *result, GError **error);
/* Delete every profile with the owned id or either owned UUID. */
void             ddr_steer_nm_remove_stale_async  (GDBusConnection     *bus,
                                                   GCancellable        *cancellable,
                                                   GAsyncReadyCallback  callback,
                                                   gpointer             user_data);
gboolean         ddr_steer_nm_remove_stale_finish (GAsyncResult *result, GError **error);
/* An a{sa{sv}} with the owned id or either owned UUID. */
gboolean         ddr_steer_nm_settings_are_ours   (GVariant *settings);
/* The D-Bus object is gone (NM deleted a volatile profile on its own meanwhile). */
gboolean         ddr_steer_nm_error_vanished      (const GError *error);
void             ddr_steer_nm_call                (GDBusConnection *bus, GTask *task,
                                                   const char *path, const char *iface,
                                                   const char *method, GVariant *params,
                                                   const char *reply_type,
                                                   GAsyncReadyCallback cb);
DdrSteerBackend *ddr_steer_resolved_new   (GDBusConnection *bus, const char *state_dir,
                                           DdrSteerLinkType link);
DdrSteerBackend *ddr_steer_resolvconf_new (const char *root, const char *state_dir);

/* ddr-steer-link.c: the resolved backend's ddr0. */
const char *ddr_steer_ip_binary            (void);
/* Does ddr0 carry our address? Then it is ours even without a record. */
gboolean    ddr_steer_link_has_our_address (void);
/* The "ip -batch -" script that makes ddr0 with our address, up. */
char       *ddr_steer_link_script          (DdrSteerLinkType link);
/* ip link del ddr0; a link already gone counts as deleted. */
gboolean    ddr_steer_link_delete          (GError **error);

/* Calls gone(user_data) once when the link ifindex is deleted; a source id for
 * g_source_remove(), 0 when the watch could not be set up (logged). */
guint ddr_steer_link_watch (int ifindex, GSourceFunc gone, gpointer user_data);

/* Synchronous clean-up, one per backend; each appends a line per thing undone. */
gboolean ddr_steer_nm_restore         (GDBusConnection *bus, GString *report, GError **error);
gboolean ddr_steer_resolved_restore   (GDBusConnection *bus, const char *state_dir,
                                       GString *report, GError **error);
gboolean ddr_steer_resolvconf_restore (const char *root, const char *state_dir,
                                       GString *report, GError **error);

/* The steering record (state_dir/steering.record): one group per backend that changed
 * something, written before the change so a crash leaves a trail. Loading a missing
 * record gives an empty key file; saving an empty one removes the file. */
GKeyFile *ddr_steer_record_load (const char *state_dir, GError **error);
gboolean  ddr_steer_record_save (const char *state_dir, GKeyFile *record, GError **error);

G_END_DECLS
