// Package webhook delivers a batch's events to the campaign's webhook URL without
// letting that URL aim the worker inward (issue 14, finding 3).
//
// The rules, applied by Sender.Send:
//
//   - Off unless WEBHOOK_ALLOWED_HOSTS lists something (New logs "webhooks are off"
//     once). Entries are comma-separated: host, host:port, IP, IP:port, [IPv6]:port
//     or a CIDR prefix. A host entry without a port allows any port.
//   - The URL must be http or https and name a listed host (by name, by IP, or an IP
//     inside a listed prefix). Credentials in the URL (https://user:pass@...) are
//     refused, never sent as Basic auth.
//   - At connect time the worker resolves the name itself and dials only addresses
//     it checked, by IP, and the socket's Control hook checks the address actually
//     dialled again, so DNS rebinding cannot slip past. Loopback, link-local
//     (169.254.0.0/16 — cloud metadata —, fe80::/10), private (RFC 1918, fc00::/7),
//     unspecified, multicast, carrier-grade NAT (100.64.0.0/10), reserved and NAT64 /
//     6to4 addresses are refused unless that address is itself listed (an IP entry
//     or inside a prefix entry): listing hooks.example.com does not vouch for
//     127.0.0.1. So an internal receiver is allowed with
//     WEBHOOK_ALLOWED_HOSTS=hooks.internal,10.1.2.3 (or 10.1.0.0/16).
//   - No proxy from the environment, no redirects: a 3xx answer is a refusal.
//   - Each attempt is bounded by Timeout (5 s); 5xx answers and network errors are
//     retried with exponential backoff up to MaxAttempts (3) in all; other answers
//     and refusals are not retried.
//   - Headers: Content-Type: application/json, X-Dialq-Event-Id (the same on every
//     retry: receivers deduplicate on it) and X-Dialq-Signature: sha256=<hex
//     HMAC-SHA256 of the exact body, keyed with WEBHOOK_SECRET>.
//   - A refused or failed delivery is logged (target masked: no credentials, no
//     query, digit runs masked) and counted (Metrics); Send returns the error, which
//     never carries the URL's credentials or query. The caller must never hold a
//     batch on it.
//
// A receiver verifies a delivery like this (Verify does the same):
//
//	func handle(w http.ResponseWriter, r *http.Request) {
//		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
//		if err != nil {
//			http.Error(w, "read", http.StatusBadRequest)
//			return
//		}
//		mac := hmac.New(sha256.New, []byte(os.Getenv("WEBHOOK_SECRET")))
//		mac.Write(body)
//		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
//		if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Dialq-Signature"))) {
//			http.Error(w, "bad signature", http.StatusUnauthorized)
//			return
//		}
//		id := r.Header.Get("X-Dialq-Event-Id") // skip if already processed
//		_ = id
//		w.WriteHeader(http.StatusNoContent)
//	}
package webhook
