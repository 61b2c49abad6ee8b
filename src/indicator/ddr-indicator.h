/* The indicator: the daemon's properties through the pure model onto the item, its
 * menu and the notifications; menu clicks back to the daemon. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _DdrIndicator DdrIndicator;

typedef struct {
  const char *icon_theme_path;   /* NULL: the desktop's icon theme only */
  guint       attention_after_s; /* unprotected this long: NeedsAttention + notice */
} DdrIndicatorOptions;

DdrIndicator *ddr_indicator_new  (GDBusConnection           *session,
                                  const DdrIndicatorOptions *options,
                                  GError                   **error);
void          ddr_indicator_free (DdrIndicator              *indicator);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrIndicator, ddr_indicator_free)

G_END_DECLS
