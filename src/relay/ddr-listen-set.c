/* The set of listen addresses: new ones opened before old ones close, unchanged ones kept. */
#define G_LOG_DOMAIN "ddr-relay"

#include "config.h"

#include <string.h>

#include "ddr-relay-private.h"

/* One configured listen address: its text (canonical) and its two sockets. */
struct _DdrListen {
  char           *key;
  DdrUdpListener *udp;
  DdrTcpListener *tcp;
};

static void
ddr_listen_free (gpointer data)
{
  DdrListen *l = data;

  if (l->udp)
    {
      ddr_udp_listener_close (l->udp);
      ddr_udp_listener_unref (l->udp);
    }
  if (l->tcp)
    ddr_tcp_listener_free (l->tcp);
  g_free (l->key);
  g_free (l);
}

static char *
listen_key (GInetSocketAddress *address)
{
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (address));
  guint16 port = g_inet_socket_address_get_port (address);

  if (strchr (ip, ':'))
    return g_strdup_printf ("[%s]:%u", ip, port);
  return g_strdup_printf ("%s:%u", ip, port);
}

static DdrListen *
find_listen (GPtrArray *listens, const char *key)
{
  for (guint i = 0; i < listens->len; i++)
    {
      DdrListen *l = g_ptr_array_index (listens, i);
      if (g_str_equal (l->key, key))
        return l;
    }
  return NULL;
}

/* Adds `text` to result: an entry of `current` for the same address goes to
 * `reused` (moved over once everything else succeeded), else new sockets. */
static gboolean
open_one (DdrRelay *relay, const char *text, const DdrTcpLimits *limits, GPtrArray *current,
          GPtrArray *result, GPtrArray *reused, GError **error)
{
  g_autoptr(GInetSocketAddress) address = ddr_parse_listen_address (text, error);
  g_autofree char *key = NULL;
  DdrListen *existing, *l;

  if (!address)
    return FALSE;
  key = listen_key (address);
  if (find_listen (result, key) || find_listen (reused, key))
    return TRUE;

  existing = current ? find_listen (current, key) : NULL;
  if (existing)
    {
      g_ptr_array_add (reused, existing);
      return TRUE;
    }

  l = g_new0 (DdrListen, 1);
  l->key = g_steal_pointer (&key);
  g_ptr_array_add (result, l);   /* freed with result if the rest fails */
  l->udp = ddr_udp_listener_new (relay, address, error);
  if (!l->udp)
    return FALSE;
  l->tcp = ddr_tcp_listener_new (relay, address, limits, error);
  if (!l->tcp)
    return FALSE;
  g_message ("listening on %s (UDP and TCP)", l->key);
  return TRUE;
}

/* Opens the sockets of every address that `current` lacks. Returns the
 * complete new set (reusing current's entries), or NULL on error with nothing
 * opened left behind and current untouched. */
GPtrArray *
ddr_listen_set_open (DdrRelay *relay, GPtrArray *current, char **addresses,
                     const DdrTcpLimits *limits, GError **error)
{
  g_autoptr(GPtrArray) result = g_ptr_array_new_with_free_func (ddr_listen_free);
  g_autoptr(GPtrArray) reused = g_ptr_array_new ();

  for (guint i = 0; addresses && addresses[i]; i++)
    if (!open_one (relay, addresses[i], limits, current, result, reused, error))
      return NULL;

  /* Move the reused entries from the old set into the new one. */
  for (guint i = 0; i < reused->len; i++)
    {
      DdrListen *l = g_ptr_array_index (reused, i);
      /* steal, not remove: the old array's free function would close it */
      for (guint j = 0; j < current->len; j++)
        if (g_ptr_array_index (current, j) == l)
          g_ptr_array_steal_index_fast (current, j);
      g_ptr_array_add (result, l);
    }
  /* What is left in current closes when the caller drops it. */
  for (guint i = 0; current && i < current->len; i++)
    g_message ("no longer listening on %s",
               ((DdrListen *) g_ptr_array_index (current, i))->key);
  return g_steal_pointer (&result);
}

void
ddr_listen_set_apply_limits (GPtrArray *set, const DdrTcpLimits *limits)
{
  for (guint i = 0; i < set->len; i++)
    {
      DdrListen *l = g_ptr_array_index (set, i);
      ddr_tcp_listener_set_limits (l->tcp, limits);
    }
}

/* GSocket's bind errors repeat the address ("Error binding to address X: why"). */
const char *
ddr_listen_error_reason (const GError *error)
{
  const char *sep = g_strrstr (error->message, ": ");

  return sep ? sep + 2 : error->message;
}
