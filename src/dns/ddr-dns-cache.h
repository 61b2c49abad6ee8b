/* Answer cache: bounded LRU of wire-format responses keyed by question and DO/CD. */
#pragma once

#include "ddr-dns-wire.h"

G_BEGIN_DECLS

typedef struct _DdrDnsCache DdrDnsCache;

/* Serve-stale (RFC 8767): TTL given to stale answers, and how long past expiry they may be used. */
#define DDR_DNS_CACHE_STALE_TTL      30
#define DDR_DNS_CACHE_MAX_STALE_AGE  86400

DdrDnsCache *ddr_dns_cache_new      (guint max_entries, guint32 min_ttl, guint32 max_ttl);
void         ddr_dns_cache_free     (DdrDnsCache *cache);
void         ddr_dns_cache_flush    (DdrDnsCache *cache);
guint        ddr_dns_cache_size     (DdrDnsCache *cache);
/* Change the bound (evicts least recently used entries as needed); 0 disables. */
void         ddr_dns_cache_set_limits (DdrDnsCache *cache, guint max_entries,
                                       guint32 min_ttl, guint32 max_ttl);

/* A name (wire form; NULL: none) that is never stored nor answered from the cache,
 * fresh or stale, whatever its type: the check-domain, whose answer must prove that
 * the DNS service answers now. */
void         ddr_dns_cache_set_uncached (DdrDnsCache *cache, const guint8 *name, gsize name_len);

/* Store the upstream response `resp` (already validated: rinfo from ddr_dns_parse_response)
 * for the question of qinfo (its qname, qtype, qclass; DO from edns_flags; CD from flags).
 * The TTL: min_ttl for NOERROR with answers; soa_negative_ttl for NXDOMAIN/NODATA with
 * an SOA; not stored otherwise (SERVFAIL, no SOA, TC set, TTL 0). Clamped to [min_ttl, max_ttl]
 * of the cache. now_s: monotonic seconds. Returns TRUE if stored. */
gboolean ddr_dns_cache_insert (DdrDnsCache *cache, const DdrDnsInfo *qinfo,
                               const guint8 *resp, gsize resp_len,
                               const DdrDnsInfo *rinfo, gint64 now_s);

typedef enum {
  DDR_DNS_CACHE_MISS = 0,
  DDR_DNS_CACHE_HIT,
  DDR_DNS_CACHE_STALE,   /* only returned when allow_stale */
} DdrDnsCacheResult;

/* Copy the answer for qinfo's question into out (cap bytes) with TTLs aged
 * by the time spent in the cache (or set to DDR_DNS_CACHE_STALE_TTL if stale),
 * and the ID set to qinfo->id. *out_len gets the length. An expired entry
 * is returned only when allow_stale and no older than MAX_STALE_AGE past expiry. */
DdrDnsCacheResult ddr_dns_cache_lookup (DdrDnsCache *cache, const DdrDnsInfo *qinfo,
                                        gint64 now_s, gboolean allow_stale,
                                        guint8 *out, gsize cap, gsize *out_len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DdrDnsCache, ddr_dns_cache_free)

G_END_DECLS
