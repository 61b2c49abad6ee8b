/* Answer cache: bounded LRU of wire-format responses keyed by question and DO/CD. */
#define G_LOG_DOMAIN "ddr-dns-cache"

#include "ddr-dns-cache.h"
#include "ddr-dns-edit.h"

#include <string.h>

/* Key bytes: qname (wire, lower case) + qtype + qclass + one byte of DO/CD. */
#define KEY_MAX       (DDR_DNS_MAX_NAME + 5)
#define KEY_BIT_DO    0x01
#define KEY_BIT_CD    0x02

/* What the hash table hashes and compares. Entries embed one pointing at their
 * own bytes; a lookup builds one on the stack, so finding an entry allocates nothing. */
typedef struct {
  const guint8 *bytes;
  guint         hash;
  guint16       len;
} CacheKey;

/* One allocation per entry: this header, then the key, then the response. */
typedef struct {
  CacheKey key;        /* the hash table's key; key.bytes = data */
  GList    link;       /* in cache->lru, most recent at the head; data = entry */
  gint64   inserted;   /* now_s at insert */
  guint32  ttl;        /* clamped */
  guint16  resp_len;
  guint8   data[];
} CacheEntry;

struct _DdrDnsCache {
  GHashTable *table;   /* CacheKey* → CacheEntry*, owns nothing */
  GQueue      lru;     /* of CacheEntry, via their embedded links */
  guint       max_entries;
  guint32     min_ttl;
  guint32     max_ttl;
  guint32     seed;
  guint8     *uncached;       /* ddr_dns_cache_set_uncached(), or NULL */
  gsize       uncached_len;
};

static inline const guint8 *
entry_resp (const CacheEntry *entry)
{
  return entry->data + entry->key.len;
}

/* FNV-1a with a per-cache random start: keys come from client questions, and
 * the seed keeps a set of colliding names from working against every instance. */
static guint
key_hash_bytes (guint32 seed, const guint8 *bytes, gsize len)
{
  guint32 h = 2166136261u ^ seed;

  for (gsize i = 0; i < len; i++)
    {
      h ^= bytes[i];
      h *= 16777619u;
    }
  return h;
}

static guint
cache_key_hash (gconstpointer k)
{
  return ((const CacheKey *) k)->hash;
}

static gboolean
cache_key_equal (gconstpointer a, gconstpointer b)
{
  const CacheKey *ka = a, *kb = b;

  return ka->hash == kb->hash && ka->len == kb->len && memcmp (ka->bytes, kb->bytes, ka->len) == 0;
}

/* Fill buf[KEY_MAX] with qinfo's key. The parser already folds the name; folding
 * again here is cheap and keeps the cache right even for a hand-made DdrDnsInfo. */
static gboolean
build_key (const DdrDnsCache *cache, const DdrDnsInfo *qinfo, guint8 *buf, CacheKey *key)
{
  gsize n = qinfo->qname_len;
  guint8 bits = 0;

  if (n == 0 || n > DDR_DNS_MAX_NAME)
    return FALSE;

  for (gsize i = 0; i < n; i++)
    buf[i] = (guint8) g_ascii_tolower (qinfo->qname[i]);
  ddr_dns_put16 (buf + n, qinfo->qtype);
  ddr_dns_put16 (buf + n + 2, qinfo->qclass);
  if (qinfo->has_opt && (qinfo->edns_flags & DDR_DNS_EDNS_DO))
    bits |= KEY_BIT_DO;
  if (qinfo->flags & DDR_DNS_FLAG_CD)
    bits |= KEY_BIT_CD;
  buf[n + 4] = bits;
  n += 5;

  key->bytes = buf;
  key->len = (guint16) n;
  key->hash = key_hash_bytes (cache->seed, buf, n);
  return TRUE;
}

static void
remove_entry (DdrDnsCache *cache, CacheEntry *entry)
{
  g_hash_table_remove (cache->table, &entry->key);
  g_queue_unlink (&cache->lru, &entry->link);
  g_free (entry);
}

static void
evict_to (DdrDnsCache *cache, guint limit)
{
  while (cache->lru.length > limit)
    remove_entry (cache, cache->lru.tail->data);
}

DdrDnsCache *
ddr_dns_cache_new (guint max_entries, guint32 min_ttl, guint32 max_ttl)
{
  DdrDnsCache *cache = g_new0 (DdrDnsCache, 1);

  cache->table = g_hash_table_new (cache_key_hash, cache_key_equal);
  g_queue_init (&cache->lru);
  cache->seed = g_random_int ();
  ddr_dns_cache_set_limits (cache, max_entries, min_ttl, max_ttl);
  return cache;
}

void
ddr_dns_cache_free (DdrDnsCache *cache)
{
  if (cache == NULL)
    return;

  ddr_dns_cache_flush (cache);
  g_hash_table_unref (cache->table);
  g_free (cache->uncached);
  g_free (cache);
}

void
ddr_dns_cache_flush (DdrDnsCache *cache)
{
  g_return_if_fail (cache != NULL);

  g_hash_table_remove_all (cache->table);
  while (cache->lru.head != NULL)
    {
      CacheEntry *entry = cache->lru.head->data;

      g_queue_unlink (&cache->lru, &entry->link);
      g_free (entry);
    }
}

guint
ddr_dns_cache_size (DdrDnsCache *cache)
{
  g_return_val_if_fail (cache != NULL, 0);

  return g_hash_table_size (cache->table);
}

/* Entries already stored keep the TTL they were stored with; only the bound
 * applies at once. */
void
ddr_dns_cache_set_limits (DdrDnsCache *cache, guint max_entries,
                          guint32 min_ttl, guint32 max_ttl)
{
  g_return_if_fail (cache != NULL);

  cache->max_entries = max_entries;
  cache->min_ttl = min_ttl;
  /* A min above the max would make the clamp order matter; the max wins. */
  cache->max_ttl = max_ttl;
  if (cache->min_ttl > cache->max_ttl)
    cache->min_ttl = cache->max_ttl;
  evict_to (cache, max_entries);
}

void
ddr_dns_cache_set_uncached (DdrDnsCache *cache, const guint8 *name, gsize name_len)
{
  g_return_if_fail (cache != NULL);

  g_clear_pointer (&cache->uncached, g_free);
  cache->uncached_len = 0;
  if (name && name_len > 0)
    {
      cache->uncached = g_memdup2 (name, name_len);
      cache->uncached_len = name_len;
    }
}

static gboolean
is_uncached (const DdrDnsCache *cache, const DdrDnsInfo *qinfo)
{
  return cache->uncached &&
         ddr_dns_name_equal (qinfo->qname, qinfo->qname_len, cache->uncached, cache->uncached_len);
}

/* How long the response may be kept, 0 if it must not be. */
static guint32
response_ttl (const DdrDnsCache *cache, const DdrDnsInfo *qinfo, const DdrDnsInfo *rinfo)
{
  guint rcode = DDR_DNS_RCODE (rinfo->flags);
  guint32 ttl;

  /* A truncated answer is incomplete; a client that asks again over TCP must get it all. */
  if (rinfo->flags & DDR_DNS_FLAG_TC)
    return 0;
  /* Only plain queries, and no extended RCODE (BADVERS etc.) hiding behind a 0. */
  if (DDR_DNS_OPCODE (qinfo->flags) != 0 || DDR_DNS_OPCODE (rinfo->flags) != 0 ||
      rinfo->ext_rcode != 0)
    return 0;

  if (rcode == DDR_DNS_RCODE_NOERROR && rinfo->ancount > 0)
    ttl = rinfo->min_ttl;
  else if ((rcode == DDR_DNS_RCODE_NXDOMAIN || rcode == DDR_DNS_RCODE_NOERROR) && rinfo->has_soa)
    ttl = rinfo->soa_negative_ttl;      /* RFC 2308 §5 */
  else
    return 0;

  /* An upstream that says 0 means "do not cache"; min_ttl does not override that. */
  if (ttl == 0 || ttl == G_MAXUINT32)
    return 0;

  return CLAMP (ttl, cache->min_ttl, cache->max_ttl);
}

gboolean
ddr_dns_cache_insert (DdrDnsCache *cache, const DdrDnsInfo *qinfo,
                      const guint8 *resp, gsize resp_len,
                      const DdrDnsInfo *rinfo, gint64 now_s)
{
  guint8 key_buf[KEY_MAX];
  CacheKey key;
  CacheEntry *entry;
  guint32 ttl;

  g_return_val_if_fail (cache != NULL, FALSE);
  g_return_val_if_fail (qinfo != NULL && rinfo != NULL, FALSE);
  g_return_val_if_fail (resp != NULL || resp_len == 0, FALSE);

  if (cache->max_entries == 0 || is_uncached (cache, qinfo))
    return FALSE;
  if (resp_len < DDR_DNS_HEADER_LEN || resp_len > DDR_DNS_MAX_MSG)
    return FALSE;

  ttl = response_ttl (cache, qinfo, rinfo);
  if (ttl == 0)
    return FALSE;
  if (!build_key (cache, qinfo, key_buf, &key))
    return FALSE;

  /* A fresh answer replaces whatever we had for the question. */
  entry = g_hash_table_lookup (cache->table, &key);
  if (entry != NULL)
    remove_entry (cache, entry);
  evict_to (cache, cache->max_entries - 1);

  entry = g_malloc (sizeof (CacheEntry) + key.len + resp_len);
  memcpy (entry->data, key_buf, key.len);
  memcpy (entry->data + key.len, resp, resp_len);
  entry->key.bytes = entry->data;
  entry->key.len = key.len;
  entry->key.hash = key.hash;
  entry->link = (GList) { .data = entry };
  entry->inserted = now_s;
  entry->ttl = ttl;
  entry->resp_len = (guint16) resp_len;

  g_hash_table_insert (cache->table, &entry->key, entry);
  g_queue_push_head_link (&cache->lru, &entry->link);
  return TRUE;
}

/* Called for every query: no allocation (the key lives on the stack). */
DdrDnsCacheResult
ddr_dns_cache_lookup (DdrDnsCache *cache, const DdrDnsInfo *qinfo,
                      gint64 now_s, gboolean allow_stale,
                      guint8 *out, gsize cap, gsize *out_len)
{
  guint8 key_buf[KEY_MAX];
  CacheKey key;
  CacheEntry *entry;
  DdrDnsCacheResult result;
  gint64 age;

  g_return_val_if_fail (cache != NULL && qinfo != NULL, DDR_DNS_CACHE_MISS);
  g_return_val_if_fail (out != NULL && out_len != NULL, DDR_DNS_CACHE_MISS);

  *out_len = 0;
  if (cache->max_entries == 0 || is_uncached (cache, qinfo) ||
      !build_key (cache, qinfo, key_buf, &key))
    return DDR_DNS_CACHE_MISS;

  entry = g_hash_table_lookup (cache->table, &key);
  if (entry == NULL)
    return DDR_DNS_CACHE_MISS;

  /* A clock that went backwards (it should not: monotonic) counts as no time. */
  age = MAX (now_s - entry->inserted, 0);
  if (age < entry->ttl)
    result = DDR_DNS_CACHE_HIT;
  else if (age - entry->ttl > DDR_DNS_CACHE_MAX_STALE_AGE)
    {
      /* Too old even to serve stale: it can only take room. */
      remove_entry (cache, entry);
      return DDR_DNS_CACHE_MISS;
    }
  else if (allow_stale)
    result = DDR_DNS_CACHE_STALE;
  else
    return DDR_DNS_CACHE_MISS;   /* kept: it may be needed stale later */

  if (entry->resp_len > cap)
    return DDR_DNS_CACHE_MISS;

  memcpy (out, entry_resp (entry), entry->resp_len);
  if (result == DDR_DNS_CACHE_HIT)
    ddr_dns_age_ttls (out, entry->resp_len, (guint32) age);
  else
    ddr_dns_set_ttls (out, entry->resp_len, DDR_DNS_CACHE_STALE_TTL);
  ddr_dns_set_id (out, qinfo->id);
  *out_len = entry->resp_len;

  g_queue_unlink (&cache->lru, &entry->link);
  g_queue_push_head_link (&cache->lru, &entry->link);
  return result;
}
