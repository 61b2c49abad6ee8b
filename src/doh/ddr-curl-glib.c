/* curl multi <-> GLib: one fd source per socket, one deadline timer; curl runs from their dispatch. */
#define G_LOG_DOMAIN "ddr-doh"

#include "config.h"

#include "ddr-curl-glib.h"
#include "ddr-deadline-source.h"

struct _DdrCurlGlib {
  CURLM          *multi;
  GHashTable     *socks;        /* fd -> SockSource (owned) */
  GSource        *timer;
  const char     *name;         /* static */
  DdrCurlGlibRan  ran;
  gpointer        user_data;
};

typedef struct {
  GSource        source;
  DdrCurlGlib   *owner;
  curl_socket_t  fd;
  gpointer       tag;
} SockSource;

static gboolean
sock_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  SockSource *s = (SockSource *) source;
  DdrCurlGlib *self = s->owner;
  GIOCondition cond = g_source_query_unix_fd (source, s->tag);
  int ev = 0;
  int running;

  if (cond & G_IO_IN)
    ev |= CURL_CSELECT_IN;
  if (cond & G_IO_OUT)
    ev |= CURL_CSELECT_OUT;
  if (cond & (G_IO_ERR | G_IO_HUP))
    ev |= CURL_CSELECT_ERR;
  curl_multi_socket_action (self->multi, s->fd, ev, &running);
  /* Last: the owner may free everything, this source included (GLib holds a
   * reference while it dispatches). */
  self->ran (self->user_data);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs sock_funcs = { .dispatch = sock_dispatch };

static void
sock_source_free (gpointer data)
{
  GSource *source = data;

  g_source_destroy (source);
  g_source_unref (source);
}

/* CURLMOPT_SOCKETFUNCTION: one source per socket, interest changed in place. */
static int
sock_cb (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
  DdrCurlGlib *self = userp;
  SockSource *s;
  GIOCondition cond = 0;

  if (what == CURL_POLL_REMOVE)
    {
      g_hash_table_remove (self->socks, GINT_TO_POINTER (fd));
      return 0;
    }
  if (what & CURL_POLL_IN)
    cond |= G_IO_IN;
  if (what & CURL_POLL_OUT)
    cond |= G_IO_OUT;

  s = g_hash_table_lookup (self->socks, GINT_TO_POINTER (fd));
  if (s == NULL)
    {
      s = (SockSource *) g_source_new (&sock_funcs, sizeof (SockSource));
      s->owner = self;
      s->fd = fd;
      s->tag = g_source_add_unix_fd (&s->source, fd, cond);
      g_source_set_name (&s->source, self->name);
      g_source_attach (&s->source, g_main_context_get_thread_default ());
      g_hash_table_insert (self->socks, GINT_TO_POINTER (fd), s);
    }
  else
    g_source_modify_unix_fd (&s->source, s->tag, cond);
  return 0;
}

/* CURLMOPT_TIMERFUNCTION: only moves the timer; curl runs from its dispatch. */
static int
timer_cb (CURLM *multi, long timeout_ms, void *userp)
{
  DdrCurlGlib *self = userp;

  if (timeout_ms < 0)
    ddr_deadline_source_set (self->timer, -1);
  else
    ddr_deadline_source_set (self->timer, g_get_monotonic_time () + (gint64) timeout_ms * 1000);
  return 0;
}

static void
timer_fire (gpointer user_data)
{
  DdrCurlGlib *self = user_data;
  int running;

  curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  self->ran (self->user_data);
}

static CURLM *
multi_new (DdrCurlGlib *self)
{
  CURLM *m = curl_multi_init ();

  curl_multi_setopt (m, CURLMOPT_SOCKETFUNCTION, sock_cb);
  curl_multi_setopt (m, CURLMOPT_SOCKETDATA, self);
  curl_multi_setopt (m, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt (m, CURLMOPT_TIMERDATA, self);
  return m;
}

DdrCurlGlib *
ddr_curl_glib_new (const char *name, DdrCurlGlibRan ran, gpointer user_data)
{
  static gsize curl_ready = 0;
  DdrCurlGlib *self;

  g_return_val_if_fail (ran != NULL, NULL);
  if (g_once_init_enter (&curl_ready))
    {
      curl_global_init (CURL_GLOBAL_DEFAULT);
      g_once_init_leave (&curl_ready, 1);
    }
  self = g_new0 (DdrCurlGlib, 1);
  self->name = name;
  self->ran = ran;
  self->user_data = user_data;
  self->socks = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, sock_source_free);
  self->timer = ddr_deadline_source_new (self->name, timer_fire, self);
  self->multi = multi_new (self);
  return self;
}

CURLM *
ddr_curl_glib_get_multi (DdrCurlGlib *self)
{
  return self->multi;
}

static void
multi_close (DdrCurlGlib *self)
{
  curl_multi_cleanup (self->multi);
  self->multi = NULL;
  /* whatever curl did not report as removed goes now */
  g_hash_table_remove_all (self->socks);
  ddr_deadline_source_set (self->timer, -1);
}

CURLM *
ddr_curl_glib_renew (DdrCurlGlib *self)
{
  multi_close (self);
  self->multi = multi_new (self);
  return self->multi;
}

void
ddr_curl_glib_free (DdrCurlGlib *self)
{
  if (self == NULL)
    return;
  multi_close (self);
  g_hash_table_unref (self->socks);
  ddr_deadline_source_free (self->timer);
  g_free (self);
}
