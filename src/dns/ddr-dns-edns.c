/* EDNS editing in place: strip the OPT record or options, pad queries; compression pointers kept valid. */

#define G_LOG_DOMAIN "ddr-dns"

#include "ddr-dns-edit-private.h"

#include <string.h>

/* Find the OPT record; FALSE if there is none or the walk fails before it. */
static gboolean
find_opt (const guint8 *msg, gsize len, DdrDnsRecord *opt)
{
  DdrDnsRecordIter iter;
  DdrDnsRecord rec;

  if (ddr_dns_record_iter_init (&iter, msg, len) != DDR_DNS_OK)
    return FALSE;
  while (ddr_dns_record_iter_next (&iter, &rec))
    if (rec.type == DDR_DNS_TYPE_OPT)
      {
        /* Editors rely on the literal root owner the parser insists on. */
        if (msg[rec.start] != 0 || rec.rdata != rec.start + OPT_RR_LEN)
          return FALSE;
        *opt = rec;
        return TRUE;
      }
  return FALSE;
}

static void
add16 (guint8 *p, int delta)
{
  ddr_dns_put16 (p, (guint16) (ddr_dns_get16 (p) + delta));
}

/* Splicing inside or out of the OPT record moves every byte after it. Records
 * may follow the OPT and compress against each other, so their pointers that
 * land after the splice must move too. Only the pointer ending each name in
 * place is rewritten; the rest of any chain lives in names walked too, or
 * wholly before the splice. A dry run first checks every moving pointer lands
 * on a name position we walk (so its own chain gets fixed), marking those
 * positions in a bitmap: pointers only reach the first 16 KiB, so 2 KiB of
 * marks covers them all. */
typedef struct {
  gsize   at;          /* where the splice starts */
  gsize   removed;     /* bytes taken out at `at` */
  gsize   inserted;    /* bytes of room put in at `at` */
  gsize   rdlength;    /* the OPT RDLENGTH the caller rewrites after; 0 if none */
  gboolean apply;      /* FALSE: dry run, check and mark only */
  guint8  marks[0x4000 / 8];
} Splice;

static void
mark (Splice *sp, gsize pos)
{
  if (pos < 0x4000)
    sp->marks[pos / 8] |= (guint8) (1u << (pos % 8));
}

static gboolean
marked (const Splice *sp, gsize pos)
{
  return pos < 0x4000 && (sp->marks[pos / 8] & (1u << (pos % 8)));
}

static gboolean
overlaps_rdlength (const Splice *sp, gsize p, gsize n)
{
  return sp->rdlength != 0 && p < sp->rdlength + 2 && sp->rdlength < p + n;
}

/* A pointer to before the splice is left alone, so every byte its name reads
 * must keep both its place and its value: the whole chain, not only the first
 * run, since a later hop can land on bytes that change too. Those are the ones
 * at or past the splice and the OPT RDLENGTH the caller rewrites; a name
 * aliased onto the RDLENGTH (a root label on its low byte, say) would
 * otherwise turn into garbage once it holds the new length. */
static gboolean
chain_stays_put (const guint8 *msg, gsize p, const Splice *sp)
{
  gsize bound = sp->at;
  guint hops = 0;

  for (;;)
    {
      guint8 c;

      if (p < DDR_DNS_HEADER_LEN || p >= bound)
        return FALSE;
      c = msg[p];
      if ((c & 0xc0) == 0xc0)
        {
          gsize target;

          if (p + 1 >= bound || overlaps_rdlength (sp, p, 2))
            return FALSE;
          target = ((gsize) (c & 0x3f) << 8) | msg[p + 1];
          /* Strictly backwards, as ddr_dns_read_name insists, so this ends. */
          if (target >= p || ++hops > 128)
            return FALSE;
          bound = p;
          p = target;
          continue;
        }
      if ((c & 0xc0) || overlaps_rdlength (sp, p, 1 + (gsize) c))
        return FALSE;
      if (c == 0)
        return TRUE;
      p += 1 + (gsize) c;
    }
}

static gboolean
fix_name (guint8 *msg, gsize limit, gsize *pos, Splice *sp)
{
  gsize p = *pos;

  for (;;)
    {
      guint8 c;

      if (p >= limit)
        return FALSE;
      c = msg[p];
      mark (sp, p);
      if ((c & 0xc0) == 0xc0)
        {
          gsize target;

          if (p + 1 >= limit)
            return FALSE;
          target = ((gsize) (c & 0x3f) << 8) | msg[p + 1];
          if (target < sp->at)
            {
              if (!sp->apply && !chain_stays_put (msg, target, sp))
                return FALSE;
            }
          else
            {
              if (!sp->apply && (target < sp->at + sp->removed || !marked (sp, target)))
                return FALSE;
              target = target - sp->removed + sp->inserted;
              if (target > 0x3fff)
                return FALSE;
              if (sp->apply)
                ddr_dns_put16 (msg + p, (guint16) (0xc000 | target));
            }
          *pos = p + 2;
          return TRUE;
        }
      if (c & 0xc0)
        return FALSE;
      if (c == 0)
        {
          *pos = p + 1;
          return TRUE;
        }
      p += 1 + (gsize) c;
    }
}

/* How many names lead the rdata of types that RFC 1035 and friends allow to
 * compress, and how many fixed bytes come before the first. */
static guint
rdata_names (guint16 type, gsize *skip)
{
  *skip = 0;
  switch (type)
    {
    case 2: case 3: case 4: case 5: case 7: case 8: case 9: case 12: case 39:
      return 1;
    case 6: case 14: case 17:
      return 2;
    case 15: case 18: case 21: case 36:
      *skip = 2;
      return 1;
    case 33:
      *skip = 6;
      return 1;
    default:
      return 0;
    }
}

static gboolean
fix_tail (guint8 *msg, gsize len, gsize tail, Splice *sp)
{
  gsize p = tail;

  /* Walk in place, never through pointers: during the apply pass earlier
   * pointers already hold their future values. */
  while (p < len)
    {
      gsize rdata, end, skip;
      guint names;

      if (!fix_name (msg, len, &p, sp))
        return FALSE;
      if (len - p < 10)
        return FALSE;
      rdata = p + 10;
      end = rdata + ddr_dns_get16 (msg + p + 8);
      if (end > len)
        return FALSE;
      names = rdata_names (ddr_dns_get16 (msg + p), &skip);
      p = rdata + skip;
      for (guint i = 0; i < names && p < end; i++)
        if (!fix_name (msg, end, &p, sp))
          return FALSE;
      p = end;
    }
  return TRUE;
}

/* Replace msg[at, at + removed) with `inserted` bytes of room, tail shifted,
 * pointers in the records from `tail` on fixed. rdlength is where the caller
 * will rewrite the OPT RDLENGTH (0 if it will not). All or nothing. */
static gboolean
splice (guint8 *msg, gsize len, gsize cap, gsize tail, gsize at,
        gsize removed, gsize inserted, gsize rdlength)
{
  if (at + removed > len || tail > len || len - removed + inserted > cap ||
      len - removed + inserted > DDR_DNS_MAX_MSG)
    return FALSE;
  if (tail < len)
    {
      Splice sp = { .at = at, .removed = removed, .inserted = inserted,
                    .rdlength = rdlength, .apply = FALSE };

      if (!fix_tail (msg, len, tail, &sp))
        return FALSE;
      sp.apply = TRUE;
      fix_tail (msg, len, tail, &sp);
    }
  memmove (msg + at + inserted, msg + at + removed, len - at - removed);
  return TRUE;
}

gsize
ddr_dns_strip_opt (guint8 *msg, gsize len)
{
  DdrDnsRecord opt;

  if (!find_opt (msg, len, &opt))
    return len;
  if (!splice (msg, len, len, opt.end, opt.start, opt.end - opt.start, 0, 0))
    return len;
  add16 (msg + 10, -1);
  return len - (opt.end - opt.start);
}

gsize
ddr_dns_strip_option (guint8 *msg, gsize len, guint16 code)
{
  DdrDnsRecord opt;
  gsize o, end;

  if (!find_opt (msg, len, &opt))
    return len;

  o = opt.rdata;
  end = opt.end;
  while (end - o >= OPTION_HDR)
    {
      gsize olen = OPTION_HDR + ddr_dns_get16 (msg + o + 2);

      if (olen > end - o)
        break;
      if (ddr_dns_get16 (msg + o) == code)
        {
          if (!splice (msg, len, len, end, o, olen, 0, opt.rdata - 2))
            break;
          len -= olen;
          end -= olen;
          continue;
        }
      o += olen;
    }
  ddr_dns_put16 (msg + opt.rdata - 2, (guint16) (end - opt.rdata));
  return len;
}

static gsize
pad_in_place (guint8 *msg, gsize len, gsize cap, gsize block, DdrDnsInfo *info)
{
  DdrDnsRecord opt;
  gsize pad, need;

  /* The client's padding was sized for its own transport, not ours. */
  if (info->has_padding)
    {
      len = ddr_dns_strip_option (msg, len, DDR_DNS_OPT_PADDING);
      if (ddr_dns_parse_query (msg, len, info) != DDR_DNS_OK || info->has_padding)
        return 0;
    }

  if (!find_opt (msg, len, &opt))
    {
      if (info->has_opt || cap < len + OPT_RR_LEN || len + OPT_RR_LEN > DDR_DNS_MAX_MSG)
        return 0;
      /* Additional is the last section, so appending keeps the order valid. */
      msg[len] = 0;
      ddr_dns_put16 (msg + len + 1, DDR_DNS_TYPE_OPT);
      ddr_dns_put16 (msg + len + 3, DDR_DNS_DEFAULT_UDP_SIZE);
      ddr_dns_put32 (msg + len + 5, 0);
      ddr_dns_put16 (msg + len + 9, 0);
      add16 (msg + 10, 1);
      len += OPT_RR_LEN;
      if (!find_opt (msg, len, &opt))
        return 0;
    }

  if (block == 0)
    return len;

  /* The option header counts towards the total that must reach the block. */
  pad = (block - (len + OPTION_HDR) % block) % block;
  need = OPTION_HDR + pad;
  if ((gsize) opt.rdlength + need > G_MAXUINT16)
    return 0;
  if (!splice (msg, len, cap, opt.end, opt.end, 0, need, opt.rdata - 2))
    return 0;

  ddr_dns_put16 (msg + opt.end, DDR_DNS_OPT_PADDING);
  ddr_dns_put16 (msg + opt.end + 2, (guint16) pad);
  memset (msg + opt.end + OPTION_HDR, 0, pad);   /* RFC 7830 §4: zeros */
  ddr_dns_put16 (msg + opt.rdata - 2, (guint16) (opt.rdlength + need));
  return len + need;
}

gsize
ddr_dns_pad_query (guint8 *msg, gsize len, gsize cap, gsize block)
{
  DdrDnsInfo info;
  g_autofree guint8 *orig = NULL;
  gsize n;

  if (ddr_dns_parse_query (msg, len, &info) != DDR_DNS_OK)
    return 0;

  /* Stripping the client's padding or adding an OPT may already have changed
   * the buffer when a later step refuses; a caller that falls back to sending
   * the query unpadded needs the bytes it had. */
  orig = g_memdup2 (msg, len);
  n = pad_in_place (msg, len, cap, block, &info);
  if (n == 0)
    memcpy (msg, orig, len);
  return n;
}
