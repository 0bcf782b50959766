package ledgerstore

import "strconv"

// Every Redis key dialq's ledger uses is built here, and nowhere else.
//
// A batch's keys all carry the batch id as a hash tag, dialq:{<batch>}:…, so that on
// Redis Cluster they live in one slot and every script below touches one slot. Keys
// that are not one batch's (the batch index, the events stream) are only written by
// commands of their own, never inside a script with a batch's keys.
//
// Key layout (version 2; version 1 used dialq:b:<batch>… without hash tags, see
// LegacyManifestKey):
//
//	dialq:batches                 ZSET  batch id → created (ms); the index of batches
//	dialq:events                  STREAM finished batches
//	dialq:{<b>}:m                 HASH  the manifest and the batch's counters and state
//	dialq:{<b>}:rejects           LIST  rows rejected at input (JSON)
//	dialq:{<b>}:p:<n>             STRING part n's records (codec.go)
//	dialq:{<b>}:p:<n>:s           HASH  part n's progress: state, done:/inflight: ranges, x: extras
//	dialq:{<b>}:p:<n>:o           LIST  part n's numbers not delivered (JSON)
//	dialq:{<b>}:ctl:<req>         LIST  numbers an operator's control acts on (never in a task payload)
//	dialq:{<b>}:claim             STRING the staging id committing the batch (expires)
//	dialq:{<b>}:audit             LIST  the batch's compliance decisions (package compliance
//	                                    writes it, AuditKey); it expires compliance.DefaultAuditTTL
//	                                    (180 days) after its last entry, outliving the batch's
//	                                    retention on purpose: consent records are kept longer
//	dialq:{<b>}:res…              call results, built by package results (results/keys.go)
const keyPrefix = "dialq"

type keys struct{}

func tag(id string) string { return keyPrefix + ":{" + id + "}" }

func (keys) index() string                     { return keyPrefix + ":batches" }
func (keys) events() string                    { return keyPrefix + ":events" }
func (keys) manifest(id string) string         { return tag(id) + ":m" }
func (keys) rejects(id string) string          { return tag(id) + ":rejects" }
func (keys) part(id string, n int) string      { return tag(id) + ":p:" + strconv.Itoa(n) }
func (k keys) state(id string, n int) string   { return k.part(id, n) + ":s" }
func (k keys) outcome(id string, n int) string { return k.part(id, n) + ":o" }
func (keys) control(id, req string) string     { return tag(id) + ":ctl:" + req }
func (keys) claim(id string) string            { return tag(id) + ":claim" }

// AuditKey is batch id's compliance audit list (see the layout above for its expiry).
func AuditKey(id string) string { return tag(id) + ":audit" }

// Tag is batch id's key prefix with its hash tag: keys other packages keep for a
// batch (call results) start with it, so they live in the batch's slot.
func Tag(id string) string { return tag(id) }

// ManifestKey is batch id's manifest, for scripts of other packages that read its
// expiry.
func ManifestKey(id string) string { return k.manifest(id) }

// LegacyManifestKey is where dialq before the hash-tagged layout kept a batch's
// manifest. Batches written that way are not read: drain them with the version that
// wrote them (README "Upgrading"); Status says so instead of "not found".
func LegacyManifestKey(id string) string { return keyPrefix + ":b:" + id }

var k keys
