/* curl multi <-> GLib: one fd source per socket, one timer source; curl runs from their dispatch. */
#define G_LOG_DOMAIN "ddr-doh"

#include "config.h"

#include "ddr-doh-curl-private.h"
#include "ddr-deadline-source.h"

#include <gio/gio.h>

typedef struct {
  GSource        source;
  DdrDohClient  *client;
  curl_socket_t  fd;
  gpointer       tag;
} SockSource;

static gboolean
sock_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  SockSource *s = (SockSource *) source;
  DdrDohClient *c = s->client;
  GIOCondition cond = g_source_query_unix_fd (source, s->tag);
  int ev = 0;
  int running;

  if (cond & G_IO_IN)
    ev |= CURL_CSELECT_IN;
  if (cond & G_IO_OUT)
    ev |= CURL_CSELECT_OUT;
  if (cond & (G_IO_ERR | G_IO_HUP))
    ev |= CURL_CSELECT_ERR;
  curl_multi_socket_action (c->multi, s->fd, ev, &running);
  ddr_doh_client_process_messages (c);
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
  DdrDohClient *c = userp;
  SockSource *s;
  GIOCondition cond = 0;

  if (what == CURL_POLL_REMOVE)
    {
      g_hash_table_remove (c->socks, GINT_TO_POINTER (fd));
      return 0;
    }
  if (what & CURL_POLL_IN)
    cond |= G_IO_IN;
  if (what & CURL_POLL_OUT)
    cond |= G_IO_OUT;

  s = g_hash_table_lookup (c->socks, GINT_TO_POINTER (fd));
  if (!s)
    {
      s = (SockSource *) g_source_new (&sock_funcs, sizeof (SockSource));
      s->client = c;
      s->fd = fd;
      s->tag = g_source_add_unix_fd (&s->source, fd, cond);
      g_source_set_name (&s->source, "ddr-doh-socket");
      g_source_attach (&s->source, NULL);
      g_hash_table_insert (c->socks, GINT_TO_POINTER (fd), s);
    }
  else
    {
      g_source_modify_unix_fd (&s->source, s->tag, cond);
    }
  return 0;
}

/* CURLMOPT_TIMERFUNCTION: only moves the timer source; curl runs from its dispatch. */
static int
timer_cb (CURLM *multi, long timeout_ms, void *userp)
{
  DdrDohClient *c = userp;

  if (timeout_ms < 0)
    ddr_deadline_source_set (c->timer, -1);
  else
    ddr_deadline_source_set (c->timer, g_get_monotonic_time () + (gint64) timeout_ms * 1000);
  return 0;
}

static void
timer_fire (gpointer user_data)
{
  DdrDohClient *c = user_data;
  int running;

  curl_multi_socket_action (c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  ddr_doh_client_process_messages (c);
}

CURLM *
ddr_doh_multi_new (DdrDohClient *c)
{
  CURLM *m = curl_multi_init ();

  curl_multi_setopt (m, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX);
  /* One multiplexed connection per host: more only churns (shared/research/curl.md). */
  curl_multi_setopt (m, CURLMOPT_MAX_HOST_CONNECTIONS, 1L);
  curl_multi_setopt (m, CURLMOPT_MAX_CONCURRENT_STREAMS, (long) DOH_MAX_STREAMS);
  curl_multi_setopt (m, CURLMOPT_SOCKETFUNCTION, sock_cb);
  curl_multi_setopt (m, CURLMOPT_SOCKETDATA, c);
  curl_multi_setopt (m, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt (m, CURLMOPT_TIMERDATA, c);
  return m;
}

GHashTable *
ddr_doh_multi_socks_new (void)
{
  return g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, sock_source_free);
}

GSource *
ddr_doh_multi_timer_new (DdrDohClient *c)
{
  return ddr_deadline_source_new ("ddr-doh-timer", timer_fire, c);
}

void
ddr_doh_multi_teardown (DdrDohClient *c)
{
  for (GList *l = c->active.head; l; l = l->next)
    curl_multi_remove_handle (c->multi, ((DdrDohTransfer *) l->data)->easy);
  curl_multi_cleanup (c->multi);
  c->multi = NULL;
  /* whatever curl did not report as removed goes now */
  g_hash_table_remove_all (c->socks);
  ddr_deadline_source_set (c->timer, -1);
}
