/* Where a query came from, and how its answer goes back there. */
#include "config.h"

#include "ddr-relay-private.h"

gsize
ddr_origin_max_answer (const DdrOrigin *origin, const DdrDnsInfo *qinfo)
{
  if (origin->tcp)
    return DDR_DNS_MAX_MSG;
  if (!qinfo->has_opt || qinfo->udp_size < 512)
    return 512;
  return qinfo->udp_size;
}

void
ddr_origin_reply (DdrOrigin *origin, const guint8 *msg, gsize len)
{
  if (origin->udp)
    {
      if (msg)
        ddr_udp_listener_send (origin->udp, origin, msg, len);
      g_clear_pointer (&origin->udp, ddr_udp_listener_unref);
    }
  else if (origin->tcp)
    {
      ddr_tcp_conn_reply (origin->tcp, msg, len);
      g_clear_pointer (&origin->tcp, ddr_tcp_conn_unref);
    }
}
