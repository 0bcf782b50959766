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
//   - Duplicate task name. The page says taskName must be unique but gives no code.
//     We expect 29002 with a message containing "already exists" (the fake answers
//     "taskName already exists"); Config.DuplicateNameMessage changes the substring.
//     Such an error reports DuplicateTaskName() and is Permanent: the worker reads it
//     as "our earlier create went through".
//   - 20001 "request failed" is Transient: the vendor says the request failed, so it
//     is taken as not processed. A create retried after all is caught by the
//     duplicate name check.
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
// 29002 "taskName already exists", refuses unknown or miscased fields and a
// Content-Type other than application/json with 29002, checks timestamp skew only
// when SpeechConfig.MaxSkew is set (the page states none), and records each
// customer's first relation as the delivered number.
package speech
