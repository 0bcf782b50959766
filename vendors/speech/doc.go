// Package speech is the client of the speech cloud call centre's automatic outbound
// API (contract sheet §3, seed 003): create a task with up to 1,000 customers, then
// append up to 1,000 more per call until the task holds 20,000.
//
// Choices made where the vendor's page is silent (each one is a setting):
//
//   - Signature. The page shows an RSA-2048 signature but not what is signed. The
//     default Signer is base64(RSA PKCS#1 v1.5 over SHA-256 of appId+timestamp);
//     SignOptions switch the hash to SHA-1 and the message template, whose
//     placeholders are {appId}, {timestamp} and {body} (the exact bytes sent), so a
//     tenant that signs the body can be served. Env: SPEECH_SIGN_HASH, SPEECH_SIGN_TEMPLATE.
//   - Duplicate task name. The page says taskName must be unique but gives no code:
//     20001 (request failed) and 29002 (parameter error) are both plausible, and
//     tenants differ. The rule: a create refused with ANY failure code (or HTTP
//     status) whose message matches a duplicate-name wording is a duplicate name.
//     The built-in wordings are, case-insensitively, "task name" / "taskName" /
//     "task_name" followed within the same clause by exists, existed, is taken,
//     already used, in use, duplicate(d) or repeated ("task name exists", "taskName
//     already exists"), "duplicate task name", "task already exists", and in
//     Chinese 任务名/名称/taskName followed by (已)存在, 重复, 被占用 or 被使用
//     ("任务名称已存在", "名称重复"), 任务已存在 and 重名. A bare "already exists"
//     is not enough: "customer already exists" is not our task. The tenant's own
//     wording is added with Config.DuplicateNameMessage (env
//     SPEECH_DUPLICATE_NAME_MESSAGE): case-insensitive substrings separated by "|".
//     Such an error satisfies IsDuplicateName (errors.Is ErrDuplicateName) and
//     DuplicateTaskName(), and is Permanent whatever its code or status, never
//     Transient, so it is never looped: the worker reads it as "our earlier create
//     went through". Appends carry no name and are never read this way.
//   - 20001 "request failed" with any other wording is Transient: the vendor says
//     the request failed, so it is taken as not processed. A create retried after
//     all is caught by the duplicate-name rule above; the worker bounds how often
//     the same refusal is repeated.
//   - 10001 (authentication failed: the signature could not be checked) is
//     vendors.AuthRefused: clock skew and key rotation make a single one real and
//     nothing was processed, so the worker retries a bounded number of times, each
//     call signed afresh with a new timestamp, and fails the part with 10001 only
//     when it persists. 10002 (no public key uploaded) is Permanent: a new
//     signature cannot help until the tenant uploads a key.
//   - A code the page does not list is Permanent on a 2xx answer: the vendor answered
//     deliberately and repeating a call we cannot interpret risks doing it twice. On
//     a non-2xx answer it follows the HTTP status.
//   - HTTP 429 is Throttled and any other non-2xx whose body is not the envelope
//     follows vendors.StatusClass; a non-2xx that carries a listed code is classed
//     by the code.
//   - Tolerance on reading: code may come as a string (documented) or a number, and
//     the task id as a number (documented) or a string of digits, since Java servers
//     often quote longs.
//   - Vendor messages are cut to 200 characters and runs of 7 or more digits in them
//     are masked, so a phone number echoed by the vendor never reaches an error string.
//   - ValidateCustomer also requires exactly one phone group entry (a task has exactly
//     one group) and mobiles made of digits only, which is what the fake enforces.
//   - A private key given inline (SPEECH_PRIVATE_KEY) may use literal \n for line
//     breaks, as environment files often do.
//
// The fake vendor (package fakevendor) plays the vendor strictly: it derives the
// public key from the same private key and options, answers a taken task name with
// 29002 "taskName already exists" (Faults.SpeechDuplicateCode/Message play other
// codes and wordings), refuses unknown or miscased fields and a
// Content-Type other than application/json with 29002, checks timestamp skew only
// when SpeechConfig.MaxSkew is set (the page states none), and records each
// customer's first relation as the delivered number.
package speech
