/* The item's menu as com.canonical.dbusmenu: a fixed set of entries whose labels,
 * visibility and sensitivity follow the model. */
#pragma once

#include <gio/gio.h>

#include "ddr-indicator-model.h"

G_BEGIN_DECLS

typedef enum {
  DDR_MENU_ROOT = 0,
  DDR_MENU_STATUS,
  DDR_MENU_LOGIN,
  DDR_MENU_SEP1,
  DDR_MENU_PAUSE_15,
  DDR_MENU_PAUSE_60,
  DDR_MENU_RESUME,
  DDR_MENU_SEP2,
  DDR_MENU_REPROBE,
  DDR_MENU_DETAILS,
  DDR_MENU_N_ITEMS
} DdrMenuId;

typedef struct _DdrIndicatorMenu DdrIndicatorMenu;

/* clicked: a "clicked" event on an entry; opening: the host is about to show it. */
typedef void (*DdrIndicatorMenuClicked) (DdrMenuId id, gpointer user_data);
typedef void (*DdrIndicatorMenuOpening) (gpointer user_data);

DdrIndicatorMenu *ddr_indicator_menu_new    (GDBusConnection         *session,
                                             const char              *path,
                                             DdrIndicatorMenuClicked  clicked,
                                             DdrIndicatorMenuOpening  opening,
                                             gpointer                 user_data,
                                             GError                 **error);
void              ddr_indicator_menu_free   (DdrIndicatorMenu        *menu);
/* New labels and states; LayoutUpdated when anything changed. */
void              ddr_indicator_menu_update (DdrIndicatorMenu        *menu,
                                             const DdrIndicatorModel *model);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrIndicatorMenu, ddr_indicator_menu_free)

G_END_DECLS
