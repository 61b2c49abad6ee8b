/* Retry back-off: doubling from a first delay to a cap. Lives in dns/ (pure code, imports
 * nothing of ours) because the upstream pool, the roaming checks and the steering retries
 * all need it and dns/ is the one library every one of them links. */
#include "ddr-backoff.h"

guint
ddr_backoff_next (guint current_ms, guint first_ms, guint max_ms)
{
  max_ms = MAX (max_ms, first_ms);
  if (current_ms < first_ms)
    return first_ms;
  /* A current value from another schedule (a larger cap) comes down to this one's. */
  if (current_ms >= max_ms / 2)
    return max_ms;
  return current_ms * 2;
}
