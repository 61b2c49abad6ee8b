/* com.threatstop.DDR1 on the system bus: method handlers, polkit gate, name ownership. */
#pragma once

#include <gio/gio.h>
#include "ddr-dbus-generated.h"

G_BEGIN_DECLS

#define DDR_BUS_NAME    "com.threatstop.DDR1"
#define DDR_OBJECT_PATH "/com/threatstop/DDR1"
#define DDR_INTERFACE   "com.threatstop.DDR1"

typedef struct _DdrManager DdrManager;

#define DDR_TYPE_DBUS_SERVICE (ddr_dbus_service_get_type ())
G_DECLARE_FINAL_TYPE (DdrDbusService, ddr_dbus_service, DDR, DBUS_SERVICE, DdrGenServiceSkeleton)

/* manager is not referenced: it owns the service. */
DdrDbusService *ddr_dbus_service_new       (DdrManager *manager);

/* Connects to the system bus, exports the object and asks for the bus name, all
 * asynchronously. ready runs once: when the name is ours, or when there is no bus or
 * the name is taken (the relay keeps serving either way). */
void            ddr_dbus_service_publish   (DdrDbusService *self,
                                            GCallback       ready,
                                            gpointer        user_data);
/* Releases the name, unexports, cancels pending polkit checks. */
void            ddr_dbus_service_unpublish (DdrDbusService *self);

G_END_DECLS
