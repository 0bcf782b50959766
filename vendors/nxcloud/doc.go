// Package nxcloud is the client for NXCloud's AI outbound API: one call,
// createandcall, makes a new vendor task and loads its numbers (contract sheet §1,
// seeds 000/001). There is no way to add numbers to an existing task, and no task
// id comes back.
//
// Choices made where the vendor's pages are silent:
//
//   - Code 88 ("request failed", with "contact support" as the only advice) is
//     treated as Transient: the vendor says nothing about whether the call can be
//     repeated, it is not a parameter or authentication answer, and the worker caps
//     retries, so a passing fault gets another chance and a lasting one still ends
//     as a failed part.
//   - Codes 1003 (bad signature) and 1004 (timestamp expired) are AuthRefused: the
//     vendor could not check the signature, which clock skew or a key rotation
//     causes for a while, and nothing was processed. Every call signs afresh (new
//     ts, new sign), so the worker retries a bounded number of times with backoff
//     and fails the part with the code only when the refusal persists. The other
//     header codes (1001, 1002, 1005 no permission, and any other 100x) are
//     Permanent: our request or the account is wrong, no new signature helps.
//   - A vendor code not in the sheet is Permanent: the vendor answered and refused,
//     and repeating an unknown refusal is more likely to waste a quota than to help.
//   - A non-2xx answer is classified by its HTTP status (429 Throttled with
//     Retry-After, 5xx and 408 Transient, other 4xx Permanent) unless its body
//     carries a known vendor code, which then wins (except over 429).
//   - predictCallRate is always sent with exactly two decimals and ratioCallRate
//     with exactly one, as JSON numbers, so that the signed bytes do not depend on
//     how a float happens to print.
//   - The client checks the call-level fields (country, names, dispatch and
//     startup types, rates) before sending and refuses bad ones as Permanent
//     *RequestError: the vendor would answer 41000, which the worker reads as "split
//     the part", and no split can fix a bad task setting. Per-number fields are left
//     to the vendor so that bisection isolates the bad record.
//   - The per-call maximum (the project's choice is 1,000) is the caller's setting;
//     the client does not enforce it.
//   - Redirects are never followed (vendors.NewHTTPClient, vendors.Do): following
//     one would re-send or drop a signed POST behind the caller's back. A 3xx is
//     an ambiguous *vendors.RedirectError.
package nxcloud
