/* Simple queries of our own (probes, lookups, the canary answer): build them, read their answers. */
#pragma once

#include "ddr-dns-wire.h"

G_BEGIN_DECLS

/* Write a query for name (text, "www.example.com", trailing dot optional)
 * with RD set and no EDNS into out. Returns the length, 0 if name is not a
 * valid domain name or out_cap is too small (DDR_DNS_HEADER_LEN + 4 +
 * DDR_DNS_MAX_NAME always suffices). */
gsize  ddr_dns_build_query (const char *name, guint16 qtype, guint16 id,
                            guint8 *out, gsize out_cap);

/* Append one answer record for the question's name (a compression pointer to
 * it) to a response that has no answer yet, before any OPT record, in place.
 * Returns the new length; 0 if it does not fit in cap or msg is not such a response. */
gsize  ddr_dns_add_answer (guint8 *msg, gsize len, gsize cap, guint16 type, guint32 ttl,
                           const guint8 *rdata, guint16 rdlength);

/* The addresses (text) of every class-IN record of qtype (A or AAAA) in the
 * answer section of a response that ddr_dns_parse_response accepted; an empty
 * vector when there are none. */
char **ddr_dns_answer_addresses (const guint8 *msg, gsize len, guint16 qtype);

G_END_DECLS
