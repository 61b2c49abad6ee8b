/* DNS wire format: validate a message and walk every record, bounds- and loop-safe. */

#define G_LOG_DOMAIN "ddr-dns"

#include "ddr-dns-wire.h"

#include <string.h>

/* Each hop moves strictly backwards, so loops are impossible anyway; the limit
 * only bounds the work an attacker can make one name cost. */
#define MAX_POINTER_HOPS 128

const char *
ddr_dns_status_to_string (DdrDnsStatus status)
{
  switch (status)
    {
    case DDR_DNS_OK:
      return "ok";
    case DDR_DNS_ERR_SHORT:
      return "shorter than a DNS header";
    case DDR_DNS_ERR_QDCOUNT:
      return "not exactly one question";
    case DDR_DNS_ERR_NAME:
      return "malformed name";
    case DDR_DNS_ERR_TRUNCATED:
      return "record runs past the end";
    case DDR_DNS_ERR_TRAILING:
      return "trailing bytes after the last record";
    case DDR_DNS_ERR_OPT:
      return "malformed or misplaced OPT record";
    case DDR_DNS_ERR_NOT_QUERY:
      return "not a query";
    case DDR_DNS_ERR_NOT_RESPONSE:
      return "not a response";
    case DDR_DNS_ERR_TOO_LONG:
      return "longer than 65535 bytes";
    default:
      return "unknown error";
    }
}

gboolean
ddr_dns_read_name (const guint8 *msg, gsize len, gsize *offset,
                   guint8 *out, gsize *out_len)
{
  gsize pos = *offset;
  gsize run_start = pos;   /* a pointer must land before the labels it ends */
  gsize bound = len;       /* after a jump, nothing at or past the pointer is read */
  gsize next = 0;          /* where the name ends in place, once known */
  gsize total = 0;
  guint hops = 0;

  /* A name therefore only ever reads bytes before its own end in place, which
   * is what lets the editors cut or move everything after it. */
  for (;;)
    {
      guint8 c;

      if (pos >= bound)
        return FALSE;
      c = msg[pos];

      if ((c & 0xc0) == 0xc0)
        {
          gsize target;

          if (pos + 1 >= bound)
            return FALSE;
          target = ((gsize) (c & 0x3f) << 8) | msg[pos + 1];
          if (target < DDR_DNS_HEADER_LEN || target >= run_start || ++hops > MAX_POINTER_HOPS)
            return FALSE;
          if (next == 0)
            next = pos + 2;
          bound = pos;
          pos = run_start = target;
          continue;
        }
      if (c & 0xc0)
        return FALSE;   /* 0x40 (extended, RFC 6891 deprecated) and 0x80 are not labels */

      if (total + 1 + c > DDR_DNS_MAX_NAME)
        return FALSE;
      if (c == 0)
        {
          if (out != NULL)
            out[total] = 0;
          total++;
          if (next == 0)
            next = pos + 1;
          break;
        }
      if (pos + c >= bound)
        return FALSE;
      if (out != NULL)
        memcpy (out + total, msg + pos, (gsize) c + 1);
      total += (gsize) c + 1;
      pos += (gsize) c + 1;
    }

  *offset = next;
  if (out_len != NULL)
    *out_len = total;
  return TRUE;
}

DdrDnsStatus
ddr_dns_record_iter_init (DdrDnsRecordIter *iter, const guint8 *msg, gsize len)
{
  guint16 qdcount;
  gsize pos = DDR_DNS_HEADER_LEN;

  memset (iter, 0, sizeof *iter);
  iter->msg = msg;
  iter->len = len;

  if (len < DDR_DNS_HEADER_LEN)
    return iter->status = DDR_DNS_ERR_SHORT;
  if (len > DDR_DNS_MAX_MSG)
    return iter->status = DDR_DNS_ERR_TOO_LONG;

  qdcount = ddr_dns_get16 (msg + 4);
  iter->left[DDR_DNS_SECTION_ANSWER] = ddr_dns_get16 (msg + 6);
  iter->left[DDR_DNS_SECTION_AUTHORITY] = ddr_dns_get16 (msg + 8);
  iter->left[DDR_DNS_SECTION_ADDITIONAL] = ddr_dns_get16 (msg + 10);

  for (guint i = 0; i < qdcount; i++)
    {
      if (!ddr_dns_read_name (msg, len, &pos, NULL, NULL))
        return iter->status = DDR_DNS_ERR_NAME;
      if (len - pos < 4)
        return iter->status = DDR_DNS_ERR_TRUNCATED;
      pos += 4;
    }

  iter->pos = pos;
  return iter->status = DDR_DNS_OK;
}

gboolean
ddr_dns_record_iter_next (DdrDnsRecordIter *iter, DdrDnsRecord *rec)
{
  const guint8 *msg = iter->msg;
  gsize pos = iter->pos;

  if (iter->status != DDR_DNS_OK)
    return FALSE;
  while (iter->section < 3 && iter->left[iter->section] == 0)
    iter->section++;
  if (iter->section >= 3)
    return FALSE;

  rec->section = (DdrDnsSection) iter->section;
  rec->start = pos;
  if (!ddr_dns_read_name (msg, iter->len, &pos, NULL, NULL))
    {
      iter->status = DDR_DNS_ERR_NAME;
      return FALSE;
    }
  if (iter->len - pos < 10)
    {
      iter->status = DDR_DNS_ERR_TRUNCATED;
      return FALSE;
    }
  rec->type = ddr_dns_get16 (msg + pos);
  rec->rclass = ddr_dns_get16 (msg + pos + 2);
  rec->ttl = ddr_dns_get32 (msg + pos + 4);
  rec->rdlength = ddr_dns_get16 (msg + pos + 8);
  rec->rdata = pos + 10;
  if (iter->len - rec->rdata < rec->rdlength)
    {
      iter->status = DDR_DNS_ERR_TRUNCATED;
      return FALSE;
    }
  rec->end = rec->rdata + rec->rdlength;

  iter->pos = rec->end;
  iter->left[iter->section]--;
  return TRUE;
}

static DdrDnsStatus
parse_opt (const guint8 *msg, const DdrDnsRecord *rec, DdrDnsInfo *info)
{
  gsize o = rec->rdata;

  /* A literal root owner only: a compressed one would break when an editor
   * moves the OPT record. RFC 6891 §6.1.2 says the name MUST be 0. */
  if (rec->section != DDR_DNS_SECTION_ADDITIONAL || info->has_opt ||
      msg[rec->start] != 0 || rec->rdata != rec->start + 11)
    return DDR_DNS_ERR_OPT;

  while (o < rec->end)
    {
      guint16 code, olen;

      if (rec->end - o < 4)
        return DDR_DNS_ERR_OPT;
      code = ddr_dns_get16 (msg + o);
      olen = ddr_dns_get16 (msg + o + 2);
      if (rec->end - o - 4 < olen)
        return DDR_DNS_ERR_OPT;
      if (code == DDR_DNS_OPT_PADDING)
        info->has_padding = TRUE;
      o += 4 + (gsize) olen;
    }

  info->has_opt = TRUE;
  info->opt_offset = (guint16) rec->start;
  info->opt_len = (guint16) (rec->end - rec->start);
  info->udp_size = rec->rclass;
  info->ext_rcode = (guint8) (rec->ttl >> 24);
  info->edns_version = (guint8) (rec->ttl >> 16);
  info->edns_flags = (guint16) rec->ttl;
  return DDR_DNS_OK;
}

/* SOA MINIMUM sits after two names, so they must be walked to find it. */
static DdrDnsStatus
parse_soa (const guint8 *msg, const DdrDnsRecord *rec, guint32 ttl, DdrDnsInfo *info)
{
  gsize pos = rec->rdata;
  guint32 minimum, negative;

  /* Bounding the walk at the rdata end keeps in-place labels inside the record;
   * pointers can only go backwards, so they stay inside too. */
  if (!ddr_dns_read_name (msg, rec->end, &pos, NULL, NULL) ||
      !ddr_dns_read_name (msg, rec->end, &pos, NULL, NULL))
    return DDR_DNS_ERR_NAME;
  if (rec->end - pos < 20)
    return DDR_DNS_ERR_TRUNCATED;

  minimum = ddr_dns_get32 (msg + pos + 16);
  if (minimum & 0x80000000u)
    minimum = 0;
  negative = MIN (ttl, minimum);
  info->soa_negative_ttl = info->has_soa ? MIN (info->soa_negative_ttl, negative) : negative;
  info->has_soa = TRUE;
  return DDR_DNS_OK;
}

static DdrDnsStatus
parse_message (const guint8 *msg, gsize len, DdrDnsInfo *info, gboolean response)
{
  DdrDnsRecordIter iter;
  DdrDnsRecord rec;
  DdrDnsStatus status;
  gsize pos = DDR_DNS_HEADER_LEN;
  gsize qname_len = 0;

  memset (info, 0, sizeof *info);
  info->min_ttl = G_MAXUINT32;

  if (len < DDR_DNS_HEADER_LEN)
    return DDR_DNS_ERR_SHORT;
  if (len > DDR_DNS_MAX_MSG)
    return DDR_DNS_ERR_TOO_LONG;

  info->id = ddr_dns_get16 (msg);
  info->flags = ddr_dns_get16 (msg + 2);
  info->qdcount = ddr_dns_get16 (msg + 4);
  info->ancount = ddr_dns_get16 (msg + 6);
  info->nscount = ddr_dns_get16 (msg + 8);
  info->arcount = ddr_dns_get16 (msg + 10);

  if (response && !(info->flags & DDR_DNS_FLAG_QR))
    return DDR_DNS_ERR_NOT_RESPONSE;
  if (!response && (info->flags & DDR_DNS_FLAG_QR))
    return DDR_DNS_ERR_NOT_QUERY;
  if (info->qdcount != 1)
    return DDR_DNS_ERR_QDCOUNT;

  if (!ddr_dns_read_name (msg, len, &pos, info->qname, &qname_len))
    return DDR_DNS_ERR_NAME;
  if (len - pos < 4)
    return DDR_DNS_ERR_TRUNCATED;
  for (gsize i = 0; i < qname_len; i++)
    info->qname[i] = (guint8) g_ascii_tolower (info->qname[i]);
  info->qname_len = (guint16) qname_len;
  info->qtype = ddr_dns_get16 (msg + pos);
  info->qclass = ddr_dns_get16 (msg + pos + 2);
  info->question_end = (guint16) (pos + 4);

  status = ddr_dns_record_iter_init (&iter, msg, len);
  if (status != DDR_DNS_OK)
    return status;

  while (ddr_dns_record_iter_next (&iter, &rec))
    {
      guint32 ttl;

      if (rec.type == DDR_DNS_TYPE_OPT)
        {
          status = parse_opt (msg, &rec, info);
          if (status != DDR_DNS_OK)
            return status;
          continue;
        }
      if (rec.section == DDR_DNS_SECTION_ADDITIONAL)
        continue;

      /* RFC 2181 §8: a TTL with the top bit set means zero. */
      ttl = (rec.ttl & 0x80000000u) ? 0 : rec.ttl;
      info->min_ttl = MIN (info->min_ttl, ttl);
      if (rec.type == DDR_DNS_TYPE_SOA && rec.section == DDR_DNS_SECTION_AUTHORITY)
        {
          status = parse_soa (msg, &rec, ttl, info);
          if (status != DDR_DNS_OK)
            return status;
        }
    }

  if (iter.status != DDR_DNS_OK)
    return iter.status;
  if (iter.pos != len)
    return DDR_DNS_ERR_TRAILING;
  return DDR_DNS_OK;
}

DdrDnsStatus
ddr_dns_parse_query (const guint8 *msg, gsize len, DdrDnsInfo *info)
{
  return parse_message (msg, len, info, FALSE);
}

DdrDnsStatus
ddr_dns_parse_response (const guint8 *msg, gsize len, DdrDnsInfo *info)
{
  return parse_message (msg, len, info, TRUE);
}

char *
ddr_dns_name_to_string (const guint8 *wire, gsize wire_len)
{
  GString *s = g_string_sized_new (wire_len + 8);
  gsize pos = 0;

  while (pos < wire_len && wire[pos] != 0)
    {
      gsize label = wire[pos];

      /* Only for logs: show what is there rather than fail on a bad name. */
      if (label > 63 || pos + 1 + label > wire_len)
        {
          g_string_append (s, "<invalid>");
          break;
        }
      for (gsize i = pos + 1; i <= pos + label; i++)
        {
          guint8 b = wire[i];

          if (b == '.' || b == '\\')
            g_string_append_printf (s, "\\%c", b);
          else if (b > 0x20 && b < 0x7f)
            g_string_append_c (s, (char) b);
          else
            g_string_append_printf (s, "\\%03u", b);
        }
      g_string_append_c (s, '.');
      pos += 1 + label;
    }

  if (s->len == 0)
    g_string_append_c (s, '.');
  return g_string_free (s, FALSE);
}

gboolean
ddr_dns_name_from_string (const char *text, guint8 *out, gsize *out_len)
{
  const char *p = text;
  gsize label_start = 0;
  gsize total = 1;

  if (text == NULL)
    return FALSE;
  if (text[0] == '\0' || strcmp (text, ".") == 0)
    {
      out[0] = 0;
      *out_len = 1;
      return TRUE;
    }

  out[0] = 0;
  while (*p != '\0')
    {
      guint8 ch;

      if (*p == '.')
        {
          if (out[label_start] == 0)
            return FALSE;   /* empty label */
          p++;
          if (*p == '\0')
            break;          /* the optional trailing dot */
          if (total >= DDR_DNS_MAX_NAME)
            return FALSE;
          label_start = total;
          out[total++] = 0;
          continue;
        }

      if (*p == '\\')
        {
          p++;
          if (g_ascii_isdigit (p[0]) && g_ascii_isdigit (p[1]) && g_ascii_isdigit (p[2]))
            {
              guint v = (guint) ((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));

              if (v > 255)
                return FALSE;
              ch = (guint8) v;
              p += 3;
            }
          else if (*p == '\0')
            return FALSE;
          else
            ch = (guint8) *p++;
        }
      else
        ch = (guint8) *p++;

      /* Leave room for the root label. */
      if (out[label_start] >= 63 || total >= DDR_DNS_MAX_NAME - 1)
        return FALSE;
      out[total++] = ch;
      out[label_start]++;
    }

  if (out[label_start] == 0 || total >= DDR_DNS_MAX_NAME)
    return FALSE;
  out[total++] = 0;
  *out_len = total;
  return TRUE;
}

static gboolean
bytes_equal_nocase (const guint8 *a, const guint8 *b, gsize len)
{
  /* Length octets are at most 63, below 'A', so folding them is harmless. */
  for (gsize i = 0; i < len; i++)
    if (g_ascii_tolower (a[i]) != g_ascii_tolower (b[i]))
      return FALSE;
  return TRUE;
}

gboolean
ddr_dns_name_equal (const guint8 *a, gsize a_len, const guint8 *b, gsize b_len)
{
  return a_len == b_len && bytes_equal_nocase (a, b, a_len);
}

gboolean
ddr_dns_same_question (const DdrDnsInfo *a, const DdrDnsInfo *b)
{
  return a->qtype == b->qtype && a->qclass == b->qclass &&
         ddr_dns_name_equal (a->qname, a->qname_len, b->qname, b->qname_len);
}

gboolean
ddr_dns_name_is_subdomain (const guint8 *name, gsize name_len,
                           const guint8 *zone, gsize zone_len)
{
  gsize pos = 0;

  if (zone_len == 0 || zone_len > name_len)
    return FALSE;

  /* Compare only at label boundaries so "badexample.com" is not under "example.com". */
  while (pos < name_len)
    {
      if (name_len - pos == zone_len)
        return bytes_equal_nocase (name + pos, zone, zone_len);
      if (name[pos] == 0 || name[pos] > 63)
        return FALSE;
      pos += 1 + (gsize) name[pos];
    }
  return FALSE;
}
