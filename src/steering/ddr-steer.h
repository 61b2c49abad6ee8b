/* DNS steering: point the system resolver at the relay, and undo it. Shared by the
 * daemon and threatstop-ddr-admin --action=restore-dns. Backends (networkmanager,
 * resolved, resolv.conf, none) sit behind this one interface. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The owned NetworkManager profiles (DESIGN.md, Test seams). Both have the id
 * DDR_STEER_NM_ID; start-up clean-up and restore-dns remove every profile with that id
 * or either UUID.
 * - The anchor (DDR_STEER_NM_UUID): in-memory, added once. It makes NM know the
 *   interface ddr0 (for veth it is activated first and creates the pair, with no DNS).
 *   Where bind-activation is unavailable it carries the DNS settings and is what is
 *   activated (the plain path).
 * - The bound activation (DDR_STEER_NM_BOUND_UUID): the steering settings added and
 *   activated by AddAndActivateConnection2 with persist=volatile and
 *   bind-activation=dbus-client, so NM deactivates and deletes it by itself when the
 *   daemon's bus connection drops (a crash), not only when the daemon falls back. */
#define DDR_STEER_NM_ID    "threatstop-ddr"
#define DDR_STEER_NM_UUID  "d4d9a706-83e3-4e49-857d-a38ab2ca8dcf"
#define DDR_STEER_NM_BOUND_UUID "d4d9a706-83e3-4e49-857d-a38ab2ca8dd0"
#define DDR_STEER_IFACE    "ddr0"
/* RFC 7600 dummy address: global scope, so systemd-resolved uses the link. */
#define DDR_STEER_ADDRESS  "192.0.0.8"

#define DDR_TYPE_STEER (ddr_steer_get_type ())
G_DECLARE_FINAL_TYPE (DdrSteer, ddr_steer, DDR, STEER, GObject)

/* backend: auto | networkmanager | resolved | resolv.conf | none. auto picks
 * networkmanager when org.freedesktop.NetworkManager has an owner on bus, else
 * resolved when org.freedesktop.resolve1 has one, else resolv.conf.
 * bus may be NULL (then only resolv.conf and none are possible).
 * root: "" or a directory every file path is put under (tests).
 * state_dir: where the steering record lives (what was changed, for restore). */
DdrSteer   *ddr_steer_new          (const char       *backend,
                                    GDBusConnection  *bus,
                                    const char       *root,
                                    const char       *state_dir,
                                    GError          **error);
/* The chosen backend's name: networkmanager, resolved, resolv.conf or none. */
const char *ddr_steer_get_backend  (DdrSteer *self);

/* Turn steering on (system DNS -> the relay at 127.0.0.1) or off (the network's
 * own DNS). Idempotent; calls made while one is running are queued in order. An
 * active NM profile is never re-activated (changes use Update2 + Reapply). */
void        ddr_steer_set_async    (DdrSteer            *self,
                                    gboolean             on,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
gboolean    ddr_steer_set_finish   (DdrSteer *self, GAsyncResult *result, GError **error);
/* What the last successful set asked for (a failed set leaves it as it was), until the
 * steering is lost: then FALSE. */
gboolean    ddr_steer_is_on        (DdrSteer *self);
/* Signal "lost" (const char *why): steering that was on has been undone by someone else
 * (the backend watches what it steered). Not emitted while a set call is running or
 * queued: that call's result is the truth. ddr_steer_is_on() is FALSE from then on. */

/* The owner found steering undone that no backend sees (a proof failed after
 * resolv.conf changed behind NetworkManager or resolved): "lost" is emitted as if the
 * backend had seen it, and the next set(TRUE) also repairs what it can (NM: Reload
 * rewrites resolv.conf). FALSE (nothing done) while a set call is due or steering off. */
gboolean    ddr_steer_report_lost  (DdrSteer *self, const char *why);

/* Watch the resolv.conf the system uses (under root): changed(user_data) on every
 * change naming it - written in place, or replaced by a rename. NULL (warned) when it
 * cannot be watched. Stop with ddr_steer_unwatch_resolv_conf(). */
typedef void (*DdrSteerRcChanged) (gpointer user_data);
GFileMonitor *ddr_steer_watch_resolv_conf   (const char        *root,
                                             DdrSteerRcChanged  changed,
                                             gpointer           user_data);
void          ddr_steer_unwatch_resolv_conf (GFileMonitor **monitor);

/* Undo every trace of steering by any backend, synchronously: the owned NM
 * profile (found by id/UUID) is deactivated and deleted, the resolved link
 * reverted, a rewritten resolv.conf restored from the record. Used at daemon
 * start (stale state from a crash), at daemon stop, and by restore-dns.
 * report gets one line per thing undone (may be NULL). FALSE + error only when
 * something that was steered could not be undone. */
gboolean    ddr_steer_restore_all  (GDBusConnection  *bus,
                                    const char       *root,
                                    const char       *state_dir,
                                    GString          *report,
                                    GError          **error);

G_END_DECLS
