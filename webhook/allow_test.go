package webhook

import (
	"errors"
	"net/netip"
	"net/url"
	"testing"
)

func TestParseAllowList(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		fail bool
	}{
		{"", 0, false},
		{" , ", 0, false},
		{"hooks.example.com", 1, false},
		{"hooks.example.com:8443, 10.0.0.5, [::1]:9000, ::1, 10.1.0.0/16, fd00::/8", 6, false},
		{"HOOKS.example.COM.", 1, false},
		{"https://hooks.example.com", 0, true},
		{"hooks.example.com/path", 0, true},
		{"user@hooks.example.com", 0, true},
		{"*.example.com", 0, true},
		{"hooks.example.com:0", 0, true},
		{"hooks.example.com:70000", 0, true},
		{"hooks.example.com:abc", 0, true},
		{"hooks.example.com:", 0, true},
		{"10.0.0.0/33", 0, true},
	}
	for _, tt := range tests {
		l, err := parseAllowList(tt.in)
		if (err != nil) != tt.fail || len(l) != tt.n {
			t.Errorf("parseAllowList(%q) = %d entries, %v; want %d, fail %v", tt.in, len(l), err, tt.n, tt.fail)
		}
	}
}

func TestHostAllowed(t *testing.T) {
	l, err := parseAllowList("hooks.example.com, api.example.com:8443, 10.0.0.5:9000, 192.168.7.0/24, [::1]:7000")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url  string
		want bool
	}{
		{"https://hooks.example.com/x", true},
		{"http://HOOKS.example.com.:8080/x", true},
		{"https://api.example.com:8443/x", true},
		{"https://api.example.com/x", false}, // port 443 is not 8443
		{"http://api.example.com:8443/x", true},
		{"https://evil.example.com/x", false},
		{"https://hooks.example.com.evil.net/x", false},
		{"http://10.0.0.5:9000/", true},
		{"http://10.0.0.5/", false},
		{"http://192.168.7.99:1234/", true},
		{"http://192.168.8.1/", false},
		{"http://[::1]:7000/", true},
		{"http://[::ffff:10.0.0.5]:9000/", true},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.hostAllowed(u); got != tt.want {
			t.Errorf("hostAllowed(%s) = %v; want %v", tt.url, got, tt.want)
		}
	}
}

func TestAddressAllowed(t *testing.T) {
	l, err := parseAllowList("hooks.example.com, 127.0.0.1:9000, 10.1.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		port int
		want bool
	}{
		{"93.184.216.34", 443, true},
		{"2606:2800:220:1:248:1893:25c8:1946", 443, true},
		{"127.0.0.1", 9000, true},
		{"127.0.0.1", 9001, false},
		{"::ffff:127.0.0.1", 9000, true},
		{"127.0.0.2", 9000, false},
		{"::1", 9000, false},
		{"10.1.200.3", 80, true},
		{"10.2.0.1", 80, false},
		{"169.254.169.254", 80, false},
		{"fe80::1", 80, false},
		{"172.16.0.1", 80, false},
		{"192.168.0.1", 80, false},
		{"fc00::1", 80, false},
		{"0.0.0.0", 80, false},
		{"::", 80, false},
		{"224.0.0.1", 80, false},
		{"ff02::1", 80, false},
		{"100.100.100.200", 80, false},
		{"255.255.255.255", 80, false},
		{"64:ff9b::a00:1", 80, false},
	}
	for _, tt := range tests {
		if got := l.addressAllowed(netip.MustParseAddr(tt.addr), tt.port); got != tt.want {
			t.Errorf("addressAllowed(%s, %d) = %v; want %v", tt.addr, tt.port, got, tt.want)
		}
	}
}

// TestControl: the socket hook refuses an internal address whatever the dial
// decided, so an address that changed between lookup and connect is still caught.
func TestControl(t *testing.T) {
	s, err := New(Config{AllowedHosts: "hooks.example.com, 127.0.0.1:9000", Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		address string
		ok      bool
	}{
		{"93.184.216.34:443", true},
		{"127.0.0.1:9000", true},
		{"127.0.0.1:22", false},
		{"[::1]:9000", false},
		{"169.254.169.254:80", false},
		{"not-an-address", false},
	}
	for _, tt := range tests {
		err := s.control("tcp4", tt.address, nil)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrRefused)) {
			t.Errorf("control(%s) = %v; want ok %v", tt.address, err, tt.ok)
		}
	}
}
