// Vendor-side names: a batch's name id, a call's range suffix, per-number ids.

package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/dialq/dialq/chunking"
)

// nameID is the batch's id in vendor-side names: a hash of the whole batch id, so
// that ids sharing a prefix (campaign2026-jan-…, campaign2026-feb-…) never share a
// name, and short enough for every vendor's name limit.
func (p *partRun) nameID() string { return NameID(p.m.ID) }

// NameID is the 12-hex-digit (48-bit) hash of batch id used in vendor-side names.
func NameID(batchID string) string {
	h := sha256.Sum256([]byte("dialq-name\x00" + batchID))
	return hex.EncodeToString(h[:6])
}

// rangeSuffix names a call inside a part when it is not the whole part (a bisected
// half, or a call of a multi-call part).
func (p *partRun) rangeSuffix(r chunking.Range) string {
	if r.Lo == 0 && r.Hi == len(p.recs) {
		return ""
	}
	return fmt.Sprintf("_%d_%d", r.Lo, r.Hi)
}

// numberID is the deterministic per-number id sent to every vendor (NXCloud
// orderID, Yccall customuuid, speech externalCustomerId): a resubmission carries
// the same ids, so the vendor or an operator can recognise it.
func numberID(batchID, phone string) string {
	h := sha256.Sum256([]byte(batchID + "\x00" + phone))
	return hex.EncodeToString(h[:16])
}
