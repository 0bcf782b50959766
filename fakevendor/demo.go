package fakevendor

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
)

// DemoEnv returns the environment, as the worker and this fake read it, that points
// every vendor at the fake vendor at baseURL with demo credentials. A fresh RSA key
// for speech is written to keyFile. The demo, tests and benchmarks share it, so
// that one environment configures both sides.
func DemoEnv(baseURL, keyFile string) (map[string]string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("demo speech key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("demo speech key: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("demo speech key: %w", err)
	}
	base := strings.TrimRight(baseURL, "/")
	return map[string]string{
		"NXCLOUD_BASE_URL":        base + "/nxcloud",
		"NXCLOUD_ACCESS_KEY":      "demo-nx-key",
		"NXCLOUD_ACCESS_SECRET":   "demo-nx-secret-0123456789",
		"YCCALL_BASE_URL":         base + "/yccall/",
		"YCCALL_APPID":            "demo-yc-app",
		"YCCALL_ACCESSKEY":        "demo-yc-accesskey-0123456789",
		"SPEECH_BASE_URL":         base + "/speech",
		"SPEECH_APP_ID":           "demo-speech-app",
		"SPEECH_PRIVATE_KEY_FILE": keyFile,
		"FLASHAI_BASE_URL":        base + "/flashai",
		"FLASHAI_CLIENT_ID":       "demo-flashai-client",
		"FLASHAI_CLIENT_SECRET":   "demo-flashai-secret-0123456789",
		"FLASHAI_USER_ID":         "10001",
	}, nil
}
