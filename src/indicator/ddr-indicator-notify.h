/* Desktop notifications (org.freedesktop.Notifications): one bubble at a time, each
 * replacing the one before, and the "Log in" action back to the indicator. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _DdrIndicatorNotify DdrIndicatorNotify;

/* The person chose the action of the notification shown with one. */
typedef void (*DdrIndicatorNotifyAction) (gpointer user_data);

DdrIndicatorNotify *ddr_indicator_notify_new  (GDBusConnection         *session,
                                               DdrIndicatorNotifyAction action,
                                               gpointer                 user_data);
void                ddr_indicator_notify_free (DdrIndicatorNotify      *notify);

/* summary and body are plain text (escaped here where the server reads markup);
 * action_label NULL = no action. Replaces the bubble shown before, if any. */
void                ddr_indicator_notify_show (DdrIndicatorNotify      *notify,
                                               const char              *icon_name,
                                               const char              *summary,
                                               const char              *body,
                                               const char              *action_label);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrIndicatorNotify, ddr_indicator_notify_free)

G_END_DECLS
