// Package flashai is the client for FlashAI's SaaS robot-calling API (contract sheet
// §4): create a call plan with a caret-delimited number list (addPlan), pause,
// restart or stop it, delete numbers from it, and read its summary and number list;
// hand numbers to human agents (addAgentPlan, agent.go); and read what the tenant
// has and how a batch does per line (discovery.go, whose doc lists its choices).
//
// Every endpoint is POST {BaseURL}/<endpoint> with a JSON body. Real deployments
// serve them under .../api/v1/thirdApi, so BaseURL is for example
// https://tenant.example.com/api/v1/thirdApi; the fake vendor serves them under
// {fake}/flashai.
//
// Every body carries clientId, a nonce, a millisecond timestamp, signType MD5 and
// sign (see Sign). Nonces must never repeat within ten minutes across the whole
// worker fleet, so they come from a NonceSource; RedisNonces reserves each one in
// the shared Redis before it is used.
//
// Choices made where the vendor's documents are silent:
//
//   - Body values are signed in the form they are marshalled: strings as they are,
//     numbers in plain decimal, booleans as true/false; null and empty-string values
//     are left out of the signature. Optional fields that are empty are not sent.
//   - addPlan sends the clear flag twice, as clear and isClear, because some
//     servers read one and some the other; both are signed.
//   - failMobileInfo is read as items joined by "," each "phone:reason" (the fake
//     vendor writes this form). Parsing is lenient: "|" and ";" also separate items,
//     "^" may stand for ":", an item without either is a phone with no reason, a
//     piece that does not start with digits continues the previous reason (so a
//     refused "number" holding letters is not itemised), and a JSON array of such
//     strings is accepted too. Anything else is kept raw in
//     AddPlanResponse.FailMobileInfo; FailCount is the vendor's count either way.
//   - Counts are accepted as JSON numbers or numeric strings (the vendor documents
//     batchCount as a string).
//   - 1003 (bad signature, also sent for a reused nonce), 1008 (bad signType) and
//     1009 (unknown clientId) are vendors.AuthRefused: the vendor could not check
//     the signature or credentials, which clock skew, key rotation or a nonce
//     collision cause for a while, and nothing was processed. Every call is signed
//     afresh with a new nonce and timestamp, so the worker retries a bounded number
//     of times with backoff and fails the part with the code only when the refusal
//     persists.
//   - 101007 (duplicate batch name) is recognised by its code alone, whatever the
//     message: IsDuplicateName (errors.Is ErrDuplicateName) and
//     APIError.DuplicateBatchName report it, and it is Permanent, never retried.
//   - Unknown vendor codes are Permanent: the vendor answered and refused, and an
//     operator should see the code rather than have it retried blindly.
//   - A non-2xx answer is Throttled (429, with Retry-After) or Transient (5xx)
//     whatever code it carries; one without the envelope is a *vendors.HTTPStatusError.
//   - Input the client can tell is wrong (missing batch name, pageNum over 5000,
//     hours outside 9–20, a phone containing "^") is refused before sending with a
//     *RequestError, which is Permanent.
//   - List pages count from 1.
//   - Vendor messages are kept in APIError with long digit runs masked, since a
//     vendor may echo a phone number.
package flashai
