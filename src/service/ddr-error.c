/* The daemon's error domain, registered with GDBus so errors cross the bus by name. */
#include "ddr-error.h"

static const GDBusErrorEntry ddr_error_entries[] = {
  { DDR_ERROR_FAILED,         "com.threatstop.DDR1.Error.Failed" },
  { DDR_ERROR_NOT_AUTHORIZED, "com.threatstop.DDR1.Error.NotAuthorized" },
  { DDR_ERROR_INVALID_ARGS,   "com.threatstop.DDR1.Error.InvalidArgs" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (ddr_error_entries) == DDR_ERROR_N_ERRORS);

GQuark
ddr_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("ddr-error-quark", &quark, ddr_error_entries,
                                      G_N_ELEMENTS (ddr_error_entries));
  return (GQuark) quark;
}
