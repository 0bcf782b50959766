package compliance

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/dialq/dialq/internal/csvcell"
)

// Audit decisions, as ExportAudit writes them.
const (
	// AuditSuppressed: the number was on a suppression list (detail: the list).
	AuditSuppressed = "suppressed"
	// AuditCapped: the number's contact cap was used up (detail: max/days).
	AuditCapped = "contact_cap"
	// AuditCapTaken: the number was let through under a cap and one delivery taken.
	AuditCapTaken = "cap_taken"
	// AuditCapReleased: the take was given back, the call was not sent.
	AuditCapReleased = "cap_released"
)

var auditCodes = map[string]string{AuditSuppressed: "s", AuditCapped: "c", AuditCapTaken: "t", AuditCapReleased: "r"}

// AuditEntry is one decision about one number.
type AuditEntry struct {
	Number   uint64
	Decision string // one of the Audit constants
	Detail   string // the list, or "max/days" of the cap
	At       time.Time
}

// DefaultAuditTTL is how long a batch's audit is kept after its last entry:
// longer than any batch retention in use, and the five months China's 2020 draft
// rules keep consent records.
const DefaultAuditTTL = 180 * 24 * time.Hour

// The audit of a batch is a Redis list (key dialq:{<batch>}:audit, keys.go) of
// entries "<unix seconds> <code> <detail> <e164 digits>", code s|c|t|r: about 35
// bytes an entry in a listpack-encoded list. Each append makes the key live at
// least ttl from now (EXPIRE NX sets it on a new key, EXPIRE GT only lengthens).
func (s *Store) appendAudit(ctx context.Context, batchID string, ttl time.Duration, es []AuditEntry) error {
	if len(es) == 0 {
		return nil
	}
	if ttl <= 0 {
		ttl = DefaultAuditTTL
	}
	key := AuditKey(batchID)
	for lo := 0; lo < len(es); lo += chunk {
		part := es[lo:min(lo+chunk, len(es))]
		vals := make([]any, len(part))
		for i, e := range part {
			vals[i] = strconv.FormatInt(e.At.Unix(), 10) + " " + auditCodes[e.Decision] + " " + e.Detail + " " + strconv.FormatUint(e.Number, 10)
		}
		pipe := s.rdb.TxPipeline()
		pipe.RPush(ctx, key, vals...)
		pipe.ExpireNX(ctx, key, ttl)
		pipe.ExpireGT(ctx, key, ttl)
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("write audit: %w", err)
		}
	}
	return nil
}

// WriteAudit appends entries to batchID's audit, kept at least ttl (0: DefaultAuditTTL).
func (s *Store) WriteAudit(ctx context.Context, batchID string, ttl time.Duration, es []AuditEntry) error {
	return s.appendAudit(ctx, batchID, ttl, es)
}

// ExportAudit writes batchID's audit as CSV: batch,phone,decision,detail,time
// (phone E.164, time RFC 3339 UTC), oldest first; cells follow csvcell.Safe, so
// the phone reads '+8613800138000. The numbers are as sensitive as
// the lists: this goes to a file an operator asked for, never to a log.
func (s *Store) ExportAudit(ctx context.Context, batchID string, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"batch", "phone", "decision", "detail", "time"}); err != nil {
		return err
	}
	names := map[string]string{}
	for k, v := range auditCodes {
		names[v] = k
	}
	key := AuditKey(batchID)
	const page = 10000
	for lo := int64(0); ; lo += page {
		vals, err := s.rdb.LRange(ctx, key, lo, lo+page-1).Result()
		if err != nil {
			return fmt.Errorf("read audit: %w", err)
		}
		for _, v := range vals {
			f := strings.SplitN(v, " ", 4)
			if len(f) != 4 {
				return fmt.Errorf("audit entry %q: malformed", f[0])
			}
			sec, _ := strconv.ParseInt(f[0], 10, 64)
			if err := cw.Write([]string{csvcell.Safe(batchID), csvcell.Safe("+" + f[3]), names[f[1]], csvcell.Safe(f[2]), time.Unix(sec, 0).UTC().Format(time.RFC3339)}); err != nil {
				return err
			}
		}
		if len(vals) < page {
			break
		}
	}
	cw.Flush()
	return cw.Error()
}
