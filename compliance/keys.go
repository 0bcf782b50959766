package compliance

import (
	"strconv"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// Every Redis key of the package is built here.
//
//	dialq:supp:{<list>}:<bucket>  hash, one bucket of a suppression list (see suppress.go)
//	dialq:supp:{<list>}:bloom     string, the list's 2^27-bit filter (see bloom.go)
//	dialq:supp:{<list>}:bloom:merge:<id>  string, bits being merged into it
//	dialq:cap:<e164 digits>       string, one number's contact-cap takes (see cap.go)
//	dialq:{<batch>}:audit         list, the batch's compliance decisions (see audit.go)
//
// A list's buckets share the hash tag {<list>}: a script over a chunk of them stays
// in one Cluster slot.

func bucketKey(list string, bucket uint32) string {
	return "dialq:supp:{" + list + "}:" + strconv.FormatUint(uint64(bucket), 10)
}

func bloomKey(list string) string { return "dialq:supp:{" + list + "}:bloom" }

// bloomScratchKey holds bits on their way into the filter (one import's, for an hour at most).
func bloomScratchKey(list, id string) string { return bloomKey(list) + ":merge:" + id }

func capKey(n uint64) string { return "dialq:cap:" + strconv.FormatUint(n, 10) }

// AuditKey is the batch's audit list, built with the ledger's keys (lifecycle/internal/ledgerstore/keys.go);
// appendAudit gives it its expiry, DefaultAuditTTL after the last entry.
func AuditKey(batchID string) string { return ledger.AuditKey(batchID) }
