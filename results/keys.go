package results

import (
	"strconv"

	"github.com/dialq/dialq/lifecycle/ledger"
)

// Keys, all under the batch's hash tag (ledger.Tag), so that a batch's results
// live in its Cluster slot and each script touches one slot:
//
//	dialq:{<b>}:res                       HASH  counters (answered, not_answered,
//	                                            not_called, bad), per slice
//	                                            c:<part>:<attempt>:<lo>-<hi> = "a,n,c,closed,endCount",
//	                                            since:<part> = when the part was delivered (ms)
//	dialq:{<b>}:res:<part>:<attempt>:<lo>-<hi>  STRING one slice's results (codec.go)
//	dialq:{<b>}:res:<part>:<attempt>:sent      STRING the indexes a redial sends (redial.go),
//	                                            kept the retention and the results window
//	dialq:{<b>}:res:<part>:<attempt>:refused   HASH   the numbers a redial's vendor refused
//
// and, outside the batch's slot, one key a callback token:
//
//	dialq:cb:<token>                      STRING the part, batch and vendor batch name a token
//	                                            stands for (callback.go),
//	                                            kept the batch's retention and the results window
//
// Every key expires: at least DefaultRetention (the batch's retention) after its
// last write, and never before the batch's manifest.
func hashKey(id string) string            { return ledger.Tag(id) + ":res" }
func sliceKey(id string, sl Slice) string { return ledger.Tag(id) + ":res:" + sl.field() }

func sentKey(id string, part, k int) string {
	return ledger.Tag(id) + ":res:" + strconv.Itoa(part) + ":" + strconv.Itoa(k) + ":sent"
}

func refusedKey(id string, part, k int) string {
	return ledger.Tag(id) + ":res:" + strconv.Itoa(part) + ":" + strconv.Itoa(k) + ":refused"
}

func tokenKey(token string) string { return "dialq:cb:" + token }
