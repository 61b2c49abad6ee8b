/* DNS wire format: validate a message and walk every record, bounds- and loop-safe. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define DDR_DNS_HEADER_LEN   12
#define DDR_DNS_MAX_NAME     255   /* wire length of a name, including the root label */
#define DDR_DNS_MAX_MSG      65535

/* Header flag bits (in the 16-bit flags word). */
#define DDR_DNS_FLAG_QR  0x8000
#define DDR_DNS_FLAG_AA  0x0400
#define DDR_DNS_FLAG_TC  0x0200
#define DDR_DNS_FLAG_RD  0x0100
#define DDR_DNS_FLAG_RA  0x0080
#define DDR_DNS_FLAG_AD  0x0020
#define DDR_DNS_FLAG_CD  0x0010
#define DDR_DNS_OPCODE(flags) (((flags) >> 11) & 0xf)
#define DDR_DNS_RCODE(flags)  ((flags) & 0xf)

#define DDR_DNS_EDNS_DO  0x8000   /* in the OPT TTL's low 16 bits */

enum {
  DDR_DNS_TYPE_A = 1,
  DDR_DNS_TYPE_NS = 2,
  DDR_DNS_TYPE_CNAME = 5,
  DDR_DNS_TYPE_SOA = 6,
  DDR_DNS_TYPE_PTR = 12,
  DDR_DNS_TYPE_TXT = 16,
  DDR_DNS_TYPE_AAAA = 28,
  DDR_DNS_TYPE_OPT = 41,
  DDR_DNS_TYPE_ANY = 255,
};

enum {
  DDR_DNS_CLASS_IN = 1,
};

typedef enum {
  DDR_DNS_RCODE_NOERROR = 0,
  DDR_DNS_RCODE_FORMERR = 1,
  DDR_DNS_RCODE_SERVFAIL = 2,
  DDR_DNS_RCODE_NXDOMAIN = 3,
  DDR_DNS_RCODE_NOTIMP = 4,
  DDR_DNS_RCODE_REFUSED = 5,
  DDR_DNS_RCODE_BADVERS = 16,   /* extended: needs an OPT record */
} DdrDnsRcode;

/* EDNS option codes */
enum {
  DDR_DNS_OPT_PADDING = 12,   /* RFC 7830 */
  DDR_DNS_OPT_EDE = 15,       /* RFC 8914 */
};

/* Extended DNS Error info codes we use (RFC 8914 §4). */
typedef enum {
  DDR_DNS_EDE_OTHER = 0,
  DDR_DNS_EDE_STALE_ANSWER = 3,
  DDR_DNS_EDE_BLOCKED = 15,
  DDR_DNS_EDE_PROHIBITED = 18,
  DDR_DNS_EDE_NOT_READY = 14,
  DDR_DNS_EDE_NO_REACHABLE_AUTHORITY = 22,
  DDR_DNS_EDE_NETWORK_ERROR = 23,
} DdrDnsEde;

typedef enum {
  DDR_DNS_OK = 0,
  DDR_DNS_ERR_SHORT,          /* shorter than a header */
  DDR_DNS_ERR_QDCOUNT,        /* not exactly one question */
  DDR_DNS_ERR_NAME,           /* bad label, bad/looping pointer, name too long */
  DDR_DNS_ERR_TRUNCATED,      /* a record runs past the end */
  DDR_DNS_ERR_TRAILING,       /* bytes after the last record */
  DDR_DNS_ERR_OPT,            /* OPT outside additional, not root-owned, twice, or bad options */
  DDR_DNS_ERR_NOT_QUERY,      /* QR set in something parsed as a query */
  DDR_DNS_ERR_NOT_RESPONSE,   /* QR clear in something parsed as a response */
  DDR_DNS_ERR_TOO_LONG,       /* longer than DDR_DNS_MAX_MSG: offsets would not fit */
} DdrDnsStatus;

/* What a validated message says. All offsets index the message buffer; the
 * struct holds no pointer into it, so it stays valid if the buffer is copied. */
typedef struct {
  guint16 id;
  guint16 flags;
  guint16 qdcount, ancount, nscount, arcount;

  /* The question, name uncompressed in wire form and folded to lower case. */
  guint8  qname[DDR_DNS_MAX_NAME];
  guint16 qname_len;             /* wire length including the root label */
  guint16 qtype;
  guint16 qclass;
  guint16 question_end;          /* offset just past the question */

  /* EDNS(0). Offsets are 0 when there is no OPT record. */
  gboolean has_opt;
  guint16  opt_offset;           /* start of the OPT RR (its owner name) */
  guint16  opt_len;              /* whole OPT RR length */
  guint16  udp_size;             /* advertised payload size (as sent; 0 without OPT) */
  guint8   edns_version;
  guint8   ext_rcode;
  guint16  edns_flags;           /* DO bit etc. */
  gboolean has_padding;          /* an EDNS Padding option is present */

  /* Responses only: what a cache may keep it for. */
  guint32  min_ttl;              /* smallest TTL over answer+authority (not OPT); G_MAXUINT32 if none */
  gboolean has_soa;              /* an SOA in authority (negative answers) */
  guint32  soa_negative_ttl;     /* min(SOA TTL, SOA MINIMUM) */
} DdrDnsInfo;

const char  *ddr_dns_status_to_string (DdrDnsStatus status);

/* Validate a query: header, exactly one question, every RR walked,
 * at most one OPT (root-owned, in additional, well-formed options). */
DdrDnsStatus ddr_dns_parse_query    (const guint8 *msg, gsize len, DdrDnsInfo *info);
/* Same walk for a response; also fills min_ttl / soa fields. */
DdrDnsStatus ddr_dns_parse_response (const guint8 *msg, gsize len, DdrDnsInfo *info);

/* Decode a (possibly compressed) name at *offset into wire form out[DDR_DNS_MAX_NAME].
 * Advances *offset past the name as it appears in place. Loop- and bounds-safe:
 * every pointer must land at or after the header and strictly before the run of
 * labels it ends, and what it leads to must end before the pointer itself (so
 * a name never reads past its own end in place). Case is kept. out and
 * out_len may be NULL to only skip the name. */
gboolean ddr_dns_read_name (const guint8 *msg, gsize len, gsize *offset,
                            guint8 *out, gsize *out_len);

/* Convert a wire-form name to presentation ("www.example.com."), for logs. */
char    *ddr_dns_name_to_string (const guint8 *wire, gsize wire_len);
/* Encode "www.example.com" (trailing dot optional) to wire form; FALSE if invalid. */
gboolean ddr_dns_name_from_string (const char *text, guint8 *out, gsize *out_len);

/* TRUE if two wire-form names are equal, ASCII case-insensitively. */
gboolean ddr_dns_name_equal (const guint8 *a, gsize a_len, const guint8 *b, gsize b_len);

/* TRUE if both messages ask the same question (name case-insensitively, type, class). */
gboolean ddr_dns_same_question (const DdrDnsInfo *a, const DdrDnsInfo *b);

/* TRUE if name (wire form, lower case) equals or is below zone (wire form, lower case). */
gboolean ddr_dns_name_is_subdomain (const guint8 *name, gsize name_len,
                                    const guint8 *zone, gsize zone_len);

/* Walking the records after the question one at a time; the parser and the
 * editors share it so there is one bounds-checked walk. */
typedef enum {
  DDR_DNS_SECTION_ANSWER = 0,
  DDR_DNS_SECTION_AUTHORITY = 1,
  DDR_DNS_SECTION_ADDITIONAL = 2,
} DdrDnsSection;

typedef struct {
  DdrDnsSection section;
  gsize   start;                 /* owner name */
  guint16 type;
  guint16 rclass;
  guint32 ttl;
  guint16 rdlength;
  gsize   rdata;                 /* first rdata byte; TTL is at rdata - 6 */
  gsize   end;                   /* just past the rdata */
} DdrDnsRecord;

typedef struct {
  const guint8 *msg;
  gsize         len;
  gsize         pos;
  guint16       left[3];
  guint         section;
  DdrDnsStatus  status;
} DdrDnsRecordIter;

/* Checks the header, skips every question. Returns (and keeps in iter->status) the result. */
DdrDnsStatus ddr_dns_record_iter_init (DdrDnsRecordIter *iter, const guint8 *msg, gsize len);
/* FALSE when the counts are used up (iter->status OK, iter->pos just past the
 * last record) or on a malformed record (iter->status says why). Owner names
 * are validated, rdata only bounds-checked. */
gboolean     ddr_dns_record_iter_next (DdrDnsRecordIter *iter, DdrDnsRecord *rec);

static inline guint16
ddr_dns_get16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static inline void
ddr_dns_put16 (guint8 *p, guint16 v)
{
  p[0] = (guint8) (v >> 8);
  p[1] = (guint8) v;
}

static inline guint32
ddr_dns_get32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static inline void
ddr_dns_put32 (guint8 *p, guint32 v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

/* Rewrite the message ID in place (msg must be at least a header long). */
static inline void
ddr_dns_set_id (guint8 *msg, guint16 id)
{
  ddr_dns_put16 (msg, id);
}

G_END_DECLS
