package ledgerstore

// Keys a follow-up call (results' redials) reads in the same script as its own
// in-flight mark, so that the batch's control and daily cap are checked and taken
// atomically with it, as the first send's mark does (markScript, markDailyScript).

// DailyKey is batch id's count of numbers sent on day (yyyy-mm-dd).
func DailyKey(id, day string) string { return k.daily(id, day) }
