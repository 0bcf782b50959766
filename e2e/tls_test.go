package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/vendors/registry"
)

// passwordRedis runs redis-server with a password, over TLS when tlsDir is set
// (it then holds ca.pem, server.pem and server.key), and returns it.
func passwordRedis(t *testing.T, password, tlsDir string) (*redisServer, error) {
	t.Helper()
	dir := t.TempDir()
	return startRedis(t, func(port int) []string {
		args := []string{"--save", "", "--appendonly", "no", "--dir", dir, "--bind", "127.0.0.1", "--requirepass", password}
		if tlsDir == "" {
			return append(args, "--port", fmt.Sprint(port))
		}
		return append(args, "--port", "0", "--tls-port", fmt.Sprint(port),
			"--tls-cert-file", filepath.Join(tlsDir, "server.pem"), "--tls-key-file", filepath.Join(tlsDir, "server.key"),
			"--tls-ca-cert-file", filepath.Join(tlsDir, "ca.pem"), "--tls-auth-clients", "no")
	})
}

// writeCerts makes a CA and a server certificate for 127.0.0.1 signed by it.
func writeCerts(t *testing.T, dir string) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	caKey := newKey()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dialq test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey := newKey()
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write("ca.pem", "CERTIFICATE", caDER)
	write("server.pem", "CERTIFICATE", srvDER)
	write("server.key", "PRIVATE KEY", keyDER)
}

// End to end over a Redis that wants a password: enqueue and worker deliver a
// batch; a wrong password stops enqueue with exit 2 and the worker short of ready,
// and no password (right or wrong) shows in any message.
func TestRedisWithPassword(t *testing.T) {
	password := randomSecret(t, 32)
	r, err := passwordRedis(t, password, "")
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, redisDB(fmt.Sprintf("redis://:%s@127.0.0.1:%d/0", password, r.Port)), nil, nil)
	deliverOverRedis(t, w, password)
}

// The same over TLS (rediss://): the client trusts the test's CA through
// SSL_CERT_FILE, which Go reads on Linux; without it the certificate is refused.
func TestRedisOverTLS(t *testing.T) {
	certs := t.TempDir()
	writeCerts(t, certs)
	password := randomSecret(t, 32)
	r, err := passwordRedis(t, password, certs)
	if errors.Is(err, errRedisExited) && strings.Contains(strings.ToLower(err.Error()), "tls") {
		t.Skipf("this redis-server cannot serve TLS: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, redisDB(fmt.Sprintf("rediss://:%s@127.0.0.1:%d/0", password, r.Port)), nil, nil)
	w.env["SSL_CERT_FILE"] = filepath.Join(certs, "ca.pem")

	// Without the CA the server's certificate must not be trusted.
	res := w.run("enqueue", "", []string{"SSL_CERT_FILE=" + filepath.Join(certs, "server.key")}, "list")
	t.Logf("enqueue list without the CA: exit %d: %s", res.code, strings.TrimSpace(res.stderr))
	if res.code != 2 || !strings.Contains(res.stderr, "certificate") {
		t.Errorf("enqueue list without the CA: exit %d: %s; want exit 2 and a certificate error", res.code, res.stderr)
	}
	if strings.Contains(res.stderr, password) {
		t.Errorf("the password is in the message: %s", res.stderr)
	}
	deliverOverRedis(t, w, password)
}

func deliverOverRedis(t *testing.T, w *world, password string) {
	t.Helper()
	phones := numbers(600, 400000)
	list := strings.Join(phones, "\n") + "\n"
	ids := map[string]string{}
	for _, v := range []string{registry.NXCloud, registry.FlashAI} {
		ids[v] = w.enqueue(v, list, "-part-size", "200")["batch"].(string)
	}
	wk, addr := w.startServing()
	for v, id := range ids {
		st := w.waitSettled(id, 45*time.Second)
		if !st.Finished || st.Delivered != 600 {
			t.Errorf("%s: %+v", v, st)
		}
		if n := w.noneTwice(v); n != 600 {
			t.Errorf("%s ledger holds %d; want 600", v, n)
		}
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(resp); resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d: %s", resp.StatusCode, body)
	}

	// A wrong password.
	wrong := randomSecret(t, 32)
	badURL := strings.Replace(w.env["REDIS_URL"], password, wrong, 1)
	for _, args := range [][]string{
		{"-vendor", "nxcloud", "-campaign", "../examples/nxcloud.json", "-"},
		{"status", ids[registry.NXCloud]},
	} {
		res := w.run("enqueue", list, []string{"REDIS_URL=" + badURL}, args...)
		if res.code != 2 {
			t.Errorf("enqueue %s with a wrong password: exit %d; want 2: %s", args[0], res.code, res.stderr)
		}
		t.Logf("enqueue %s with a wrong password: exit %d: %s", args[0], res.code, strings.TrimSpace(res.stderr))
		if !strings.Contains(res.stderr, "redis") || strings.Contains(res.stderr, wrong) || strings.Contains(res.stderr, password) {
			t.Errorf("enqueue %s with a wrong password says %q; want a redis error without the password", args[0], res.stderr)
		}
	}
	// A worker refuses to start on a Redis that refuses it, and says why.
	bad := w.run("worker", "", []string{"REDIS_URL=" + badURL})
	t.Logf("worker with a wrong password: exit %d: %s", bad.code, tail(bad.stderr, 1500))
	if bad.code == 0 || !strings.Contains(bad.stderr, "WRONGPASS") {
		t.Errorf("worker with a wrong Redis password: exit %d: %s; want a non-zero exit naming WRONGPASS", bad.code, bad.stderr)
	}
	wk.stop(t)
	for name, text := range map[string]string{"worker log": wk.logs.String(), "wrong-password worker log": bad.stderr} {
		if strings.Contains(text, password) || strings.Contains(text, wrong) {
			t.Errorf("%s shows a Redis password:\n%s", name, tail(text, 2000))
		}
	}
}
