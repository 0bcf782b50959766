package flashai

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// SignType is the only signature method the vendor accepts.
const SignType = "MD5"

// Sign returns the vendor's signature of params: upper-case hex MD5 of
// "k1=v1&k2=v2..." followed directly by clientSecret, over every key except sign
// and signType whose value is not empty, keys in byte order, values as they are
// (no quoting, no URL-encoding).
func Sign(params map[string]string, clientSecret string) string {
	sum := md5.Sum([]byte(Canonical(params) + clientSecret))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// Canonical is the text Sign hashes, without the secret.
func Canonical(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if k == "sign" || k == "signType" || v == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys) // byte order, as the vendor sorts
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	return b.String()
}

// StringParams turns a JSON body's top-level fields into the strings Sign takes:
// strings as they are, numbers in plain decimal, booleans as true/false; nulls are
// left out. The client derives them from the very map it marshals, and the fake
// vendor from the map it decodes (with json.Decoder.UseNumber), so both sign the
// same text. Nested objects and arrays have no defined string form: an error.
func StringParams(body map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(body))
	for k, v := range body {
		s, ok, err := paramString(v)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", k, err)
		}
		if ok {
			out[k] = s
		}
	}
	return out, nil
}

func paramString(v any) (string, bool, error) {
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return x, true, nil
	case bool:
		return strconv.FormatBool(x), true, nil
	case int:
		return strconv.Itoa(x), true, nil
	case int64:
		return strconv.FormatInt(x, 10), true, nil
	case json.Number:
		return plainNumber(x)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return "", false, fmt.Errorf("number %v has no decimal form", x)
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true, nil
	}
	return "", false, fmt.Errorf("unsupported value of type %T", v)
}

// plainNumber writes a decoded JSON number in plain decimal, so that 1e3 and 1000
// sign alike; integers keep every digit.
func plainNumber(n json.Number) (string, bool, error) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return strconv.FormatInt(i, 10), true, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return "", false, fmt.Errorf("number %q has no decimal form", string(n))
	}
	return strconv.FormatFloat(f, 'f', -1, 64), true, nil
}
