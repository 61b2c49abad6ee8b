/* The daemon's one error domain; each code is a com.threatstop.DDR1.Error.* D-Bus name. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define DDR_ERROR (ddr_error_quark ())
GQuark ddr_error_quark (void);

typedef enum {
  DDR_ERROR_FAILED,          /* com.threatstop.DDR1.Error.Failed */
  DDR_ERROR_NOT_AUTHORIZED,  /* com.threatstop.DDR1.Error.NotAuthorized */
  DDR_ERROR_INVALID_ARGS,    /* com.threatstop.DDR1.Error.InvalidArgs */
} DdrError;

#define DDR_ERROR_N_ERRORS (DDR_ERROR_INVALID_ARGS + 1)

G_END_DECLS
