package app

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"
)

// maxHeaderWait bounds reading a request's headers (within http.read_timeout).
const maxHeaderWait = 10 * time.Second

// newHTTPServer builds the server of the HTTP listener: every request must arrive, headers
// and body, within http.read_timeout; at most http.max_conns connections are served at once
// (further ones wait in the kernel's accept queue); every response carries the security
// headers.
func (a *App) newHTTPServer(ln net.Listener) (*http.Server, net.Listener) {
	rt := a.Cfg.HTTP.ReadTimeout
	srv := &http.Server{Handler: securityHeaders(a.Mux), ReadHeaderTimeout: min(maxHeaderWait, rt), ReadTimeout: rt,
		IdleTimeout: 120 * time.Second, ErrorLog: slog.NewLogLogger(a.Logger.Handler(), slog.LevelDebug)}
	return srv, netutil.LimitListener(ln, a.Cfg.HTTP.MaxConns)
}

// securityHeaders sets the headers every response carries, errors included. The API serves
// JSON only, so nothing may load or frame anything; a handler that serves a page sets its own
// Content-Security-Policy. A WebSocket upgrade leaves the request read time-out behind: the
// connection is then the WebSocket's, which keeps its own time-outs.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=63072000")
		}
		if r.Method == http.MethodGet && strings.Contains(strings.ToLower(r.Header.Get("Upgrade")), "websocket") {
			http.NewResponseController(w).SetReadDeadline(time.Time{})
		}
		next.ServeHTTP(w, r)
	})
}

// metricsHandler serves the Prometheus registry.
func (a *App) metricsHandler() http.Handler {
	return promhttp.HandlerFor(a.Metrics, promhttp.HandlerOpts{})
}

// tokenMetrics serves /metrics on the HTTP listener to requests with the bearer token of
// metrics.token; without one configured, the route does not exist there.
func (a *App) tokenMetrics() http.Handler {
	want := []byte("Bearer " + a.Cfg.Metrics.Token)
	h := a.metricsHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the metrics token\n", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// startMetrics serves /metrics on metrics.addr, a listener of its own (loopback by default),
// so that the API's listener does not show the process's internals to the network.
func (a *App) startMetrics() error {
	if a.Cfg.Metrics.Addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.Cfg.Metrics.Addr)
	if err != nil {
		return fmt.Errorf("metrics listener (metrics.addr, empty switches it off): %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.metricsHandler())
	a.metricsSrv = &http.Server{Handler: securityHeaders(mux), ReadHeaderTimeout: maxHeaderWait, ReadTimeout: maxHeaderWait,
		ErrorLog: slog.NewLogLogger(a.Logger.Handler(), slog.LevelDebug)}
	a.SetAddr("metrics", ln.Addr().String())
	a.Logger.Info("serving metrics", "addr", ln.Addr().String())
	go func() {
		if err := a.metricsSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Logger.Error("metrics server stopped", "err", err)
		}
	}()
	return nil
}
