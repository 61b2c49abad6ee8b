/* The StatusNotifierItem on the session bus: icon, status and tooltip for the panel,
 * registered with every StatusNotifierWatcher that comes along. */
#pragma once

#include <gio/gio.h>

#include "ddr-indicator-model.h"

G_BEGIN_DECLS

typedef struct _DdrIndicatorSni DdrIndicatorSni;

/* The item asks for the details (a left click on hosts that call Activate). */
typedef void (*DdrIndicatorSniActivate) (gpointer user_data);

#define DDR_INDICATOR_SNI_PATH  "/StatusNotifierItem"
#define DDR_INDICATOR_MENU_PATH "/MenuBar"

/* icon_theme_path: where the item's icons are if not in the desktop's icon theme
 * (may be NULL). */
DdrIndicatorSni *ddr_indicator_sni_new    (GDBusConnection        *session,
                                           const char             *icon_theme_path,
                                           DdrIndicatorSniActivate activate,
                                           gpointer                user_data,
                                           GError                **error);
void             ddr_indicator_sni_free   (DdrIndicatorSni        *sni);

/* Show the model: emits NewIcon, NewStatus, NewToolTip, NewAttentionIcon for what
 * changed. */
void             ddr_indicator_sni_update (DdrIndicatorSni        *sni,
                                           const DdrIndicatorModel *model);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrIndicatorSni, ddr_indicator_sni_free)

G_END_DECLS
