package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves Go's runtime profiles on debug.pprof_addr (a loopback address, checked by
// config.Validate) when one is configured. The listener is separate from the HTTP API so that
// profiles are never reachable from the network the API serves.
func (a *App) startPprof() error {
	if a.Cfg.Debug.PprofAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.Cfg.Debug.PprofAddr)
	if err != nil {
		return fmt.Errorf("pprof listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	a.pprofSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(a.Logger.Handler(), slog.LevelDebug)}
	a.SetAddr("pprof", ln.Addr().String())
	a.Logger.Info("serving runtime profiles", "addr", ln.Addr().String())
	go func() {
		if err := a.pprofSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Logger.Error("pprof server stopped", "err", err)
		}
	}()
	return nil
}
