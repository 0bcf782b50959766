package chunking

import "regexp"

// Field rules that campaign validation and a vendor client must agree on live here,
// once: a campaign accepted at enqueue must never be refused by the client at the
// worker, where every number of the batch would then fail.

// yccallTaskScale is Yccall's idle-agent call ratio, "1:N". The sheet gives no
// bound; dialq caps N at six digits.
var yccallTaskScale = regexp.MustCompile(`^1:[1-9][0-9]{0,5}$`)

// ValidYccallTaskScale reports whether s is a task scale Yccall takes.
func ValidYccallTaskScale(s string) bool { return yccallTaskScale.MatchString(s) }
