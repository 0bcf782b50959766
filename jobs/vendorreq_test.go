package jobs

import (
	"testing"
	"time"

	"github.com/dialq/dialq/campaign"
	"github.com/dialq/dialq/chunking"
)

// A redial's per-number ids differ from the first send's and from each other
// (a vendor may refuse an id it has seen), the first send's are the ids earlier
// versions sent, and every one fits speech's 64-character externalCustomerId.
func TestNumberIDPerAttempt(t *testing.T) {
	seen := map[string]int{}
	for k := 1; k <= campaign.MaxRecycleAttempts; k++ {
		id := NumberID("b1", "13900000001", k)
		if prev, dup := seen[id]; dup {
			t.Errorf("attempt %d has attempt %d's id", k, prev)
		}
		seen[id] = k
		if len(id) > 64 || id != NumberID("b1", "13900000001", k) {
			t.Errorf("attempt %d: id %q not stable or too long", k, id)
		}
	}
	if NumberID("b1", "13900000001", 1) != numberID("b1", "13900000001") {
		t.Error("the first send's id changed")
	}
	recs := []chunking.Record{{Phone: "8613900000001"}, {Phone: "8613900000002", CustomerID: "crm-7"}}
	nx := NXCloudRequest(&campaign.NXCloud{}, "t-r2", "b1", 2, recs)
	yc := YccallRequest(&campaign.Yccall{}, "t-r2", "b1", 2, recs, time.Time{})
	sp := SpeechCustomers(&campaign.Speech{}, "b1", 2, recs)
	if nx.CallList[0].OrderID != NumberID("b1", recs[0].Phone, 2) || yc.Phones[0].CustomUUID != NumberID("b1", recs[0].Phone, 2) ||
		sp[0].ExternalCustomerID != NumberID("b1", recs[0].Phone, 2) {
		t.Error("a redial's request does not carry the attempt's ids")
	}
	if sp[1].ExternalCustomerID != "crm-7" {
		t.Errorf("speech customer id %q; the list's own id is kept", sp[1].ExternalCustomerID)
	}
}
