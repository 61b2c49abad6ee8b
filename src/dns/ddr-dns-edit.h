/* DNS message editing: truncation, synthesised errors, TTL ageing, EDNS padding. */
#pragma once

#include "ddr-dns-wire.h"

G_BEGIN_DECLS

/* RFC 8467 §4.1: pad queries to a multiple of this many octets. */
#define DDR_DNS_PADDING_BLOCK 128
/* The payload size we advertise in an OPT we add ourselves. */
#define DDR_DNS_DEFAULT_UDP_SIZE 1232

/* Truncate a response in place to at most max_len bytes for a UDP client:
 * keeps header and question, keeps whole RR-sets of the answer section (then
 * authority, additional) in order while they fit, always keeps the OPT record
 * (if any), drops the rest, sets TC and fixes the counts.
 * Returns the new length; 0 if even header+question(+OPT) does not fit.
 * If len <= max_len, returns len unchanged (TC untouched). */
gsize ddr_dns_truncate (guint8 *msg, gsize len, gsize max_len);

/* Build a response to query (described by qinfo) with the given rcode into out.
 * Flags: QR, RD copied, RA set, CD copied, opcode copied. The question is copied.
 * If the query had an OPT, the response has one (udp size DDR_DNS_DEFAULT_UDP_SIZE,
 * DO copied) carrying an Extended DNS Error option (info_code, optional UTF-8 text)
 * unless ede_code < 0. If the question cannot be copied (FORMERR for a query
 * whose question did not parse), qdcount is 0 and only the header is sent.
 * Returns the length written, 0 if out_cap is too small (512 is always enough
 * for texts under 100 bytes). */
gsize ddr_dns_synthesize (const guint8 *query, gsize query_len, const DdrDnsInfo *qinfo,
                          DdrDnsRcode rcode, int ede_code, const char *ede_text,
                          guint8 *out, gsize out_cap);

/* FORMERR for something whose header is readable but whose body is not: header
 * only (ID and opcode copied, QR set, counts 0). Needs len >= 12. Returns 12. */
gsize ddr_dns_formerr_header (const guint8 *query, gsize len, guint8 *out);

/* Subtract `seconds` from the TTL of every RR except OPT (floor 0), in place.
 * msg must be a response that ddr_dns_parse_response accepted. */
void  ddr_dns_age_ttls (guint8 *msg, gsize len, guint32 seconds);

/* Set every non-OPT TTL to `ttl` (serve-stale answers). */
void  ddr_dns_set_ttls (guint8 *msg, gsize len, guint32 ttl);

/* Prepare a query for DoH in place (buffer capacity cap): remove any EDNS
 * Padding option the client sent, add an OPT RR if there is none
 * (udp size DDR_DNS_DEFAULT_UDP_SIZE, no DO), then add a Padding option so the
 * total length is a multiple of block. Returns the new length; 0, with msg left
 * as it was, if cap is too small or the query cannot be edited safely (a name
 * after the OPT that compresses against bytes the edit would change). */
gsize ddr_dns_pad_query (guint8 *msg, gsize len, gsize cap, gsize block);

/* Remove the OPT record entirely (answer for a client that sent no EDNS). Returns new length;
 * len, message untouched, if it cannot be removed safely. */
gsize ddr_dns_strip_opt (guint8 *msg, gsize len);

/* Remove every EDNS option with this code from the OPT record (if any). Returns new length.
 * An option that cannot be removed safely is left in place; the result always parses. */
gsize ddr_dns_strip_option (guint8 *msg, gsize len, guint16 code);

G_END_DECLS
