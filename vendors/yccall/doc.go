// Package yccall is the client for Yccall's predictive outbound API (contract
// sheet §2, seed 002): form POSTs to the tenant's root URL, the operation chosen by
// the service field, authorised by a token.
//
// Choices made where the vendor's page is silent:
//
//   - Token: with appid/accesskey the client logs in on first use, caches the token
//     (one login at a time, however many callers), and logs in again once it is
//     older than Config.TokenMaxAge (default 11 h, inside the vendor's 12 h). A call
//     answered ret 600 (token invalid) is repeated once after a fresh login; a 600
//     that survives that, or any 600 with a static token, is vendors.AuthRefused
//     and the cached token is dropped, so the worker's bounded retry (with backoff)
//     logs in again; only a refusal that persists fails the part with ret 600.
//   - TaskSet sends the token like the other task calls, though the sheet lists only
//     taskid and taskstatus.
//   - ret 400 (bad parameters) is InvalidPart for TaskCreat and TaskAdd, which carry
//     numbers and can be split, and Permanent for Login and TaskSet, which cannot.
//   - A failure to log in during a task call is a *LoginError. Its class is the login
//     failure's, except that Ambiguous becomes Transient: the task call itself was
//     never sent.
//   - ret 200 with data.status ≠ 0: errors.code 1001 (server connection failed) is
//     Transient; 1003 (authorisation failed) is AuthRefused and drops the cached
//     token like a persisting 600; every other code is Permanent. Ret 601–604
//     (appid, authorisation, licence, IP) are Permanent: a new token cannot help.
//   - Phones are sent as strings; a zero Phone.Time is sent as the current time.
//     The telphone JSON is built once per call, so the repeat after a fresh login
//     sends the same bytes.
//   - More than MaxPhonesPerCall (10,000) numbers, or none, are refused before
//     sending with a *RequestError (more: InvalidPart, since halves fit; none or a
//     bad task setting: Permanent).
//   - invaliddata is read leniently, since the sheet says only "numbers refused":
//     an array of phone strings or numbers, of objects with a phone-like key
//     (phone, telphone, mobile, tel, number) and a reason-like key (reason, msg,
//     message, desc, error, errmsg, codemsg, remark), or an object mapping phone to
//     reason. The fake vendor sends [{"phone":"...","reason":"..."}].
//   - TaskAdd's success count, when absent, is the numbers sent minus those refused.
//   - Redirects are never followed (vendors.NewHTTPClient, vendors.Do); a 3xx is an
//     ambiguous *vendors.RedirectError (a redirected login is transient, as above).
package yccall
