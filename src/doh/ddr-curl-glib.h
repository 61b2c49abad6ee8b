/* A curl multi handle driven by the GLib main loop: shared by the curl DoH engine and
 * the captive-portal probe. */
#pragma once

#include <curl/curl.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct _DdrCurlGlib DdrCurlGlib;

/* Called after curl ran (from a socket's or the timer's dispatch, never from inside a
 * curl call): the owner reads finished transfers with curl_multi_info_read. It may
 * free the DdrCurlGlib. */
typedef void (*DdrCurlGlibRan) (gpointer user_data);

/* A multi handle with one fd source per socket and one timer on the thread-default
 * main context; curl runs only from their dispatch. name: the sources' (a static string). */
DdrCurlGlib *ddr_curl_glib_new       (const char *name, DdrCurlGlibRan ran, gpointer user_data);
CURLM       *ddr_curl_glib_get_multi (DdrCurlGlib *self);
/* Every connection closed: a new multi handle in place of the old one. The caller
 * removes its easy handles first and sets its own multi options again. */
CURLM       *ddr_curl_glib_renew     (DdrCurlGlib *self);
/* The caller has removed its easy handles. */
void         ddr_curl_glib_free      (DdrCurlGlib *self);

G_END_DECLS
