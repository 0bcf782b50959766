package nxcloud

import (
	"crypto/md5"
	"encoding/hex"
	"io"
)

// Sign returns NXCloud's request signature: lower-case hex MD5 of
// accessKey=AK&action=A&bizType=B&ts=TS[&body=BODY]&accessSecret=SECRET.
// body must be exactly the bytes sent; it is left out only when empty.
func Sign(accessKey, action, bizType, ts string, body []byte, accessSecret string) string {
	h := md5.New()
	io.WriteString(h, "accessKey="+accessKey+"&action="+action+"&bizType="+bizType+"&ts="+ts)
	if len(body) > 0 {
		io.WriteString(h, "&body=")
		h.Write(body)
	}
	io.WriteString(h, "&accessSecret="+accessSecret)
	return hex.EncodeToString(h.Sum(nil))
}
