package monitor

import (
	"net"
	"net/http"
)

// EnvPagesPublic opens the batch pages and the dashboard without auth to any
// address; by default, without MONITORING_USER/PASSWORD, they answer only loopback.
const EnvPagesPublic = "DIALQ_PAGES_PUBLIC"

// loopbackOnly answers 403 to a request whose peer is not a loopback address: pages
// that show batches and queues are not for whoever reaches the port. A reverse
// proxy on the same host is loopback to us: it must bring its own auth.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isLoopback(r.RemoteAddr) {
			http.Error(w, "forbidden: the batch pages and dashboard answer loopback only unless MONITORING_USER/MONITORING_PASSWORD or "+
				EnvPagesPublic+"=true is set", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
