package main

// Serving: the listeners (API, metrics, profiles) and the ordered shutdown.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"customerservice/httpserver"
)

// serve runs the service until ctx is done.
func serve(ctx context.Context, cfg config, logger *slog.Logger) error {
	// The local defaults would, in production, write reset and transfer
	// tokens to the log and sign tokens with a secret of each server's own.
	if cfg.production && (cfg.tokenSecret == "" || cfg.smtp.Addr == "") {
		return errors.New("PRODUCTION=true needs TOKEN_SECRET (shared by every server) and SMTP_ADDR (mail with tokens is not logged in production)")
	}
	a, err := newApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.close()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	if cfg.metricsAddr != "" {
		metrics, err := net.Listen("tcp", cfg.metricsAddr)
		if err != nil {
			return fmt.Errorf("METRICS_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.web.Metrics())
		metricsSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		defer metricsSrv.Close()
		go metricsSrv.Serve(metrics)
		logger.Info("metrics", "url", "http://"+metrics.Addr().String()+"/metrics")
	}
	if addr := cfg.pprofAddr; addr != "" {
		// Profiles on a listener of their own, never on the public one.
		go func() {
			mux := http.NewServeMux()
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
			logger.Info("pprof", "addr", addr, "error", http.ListenAndServe(addr, mux))
		}()
	}
	if cfg.production {
		logger.Info("serving", "graphql", "http://"+ln.Addr().String()+"/graphql")
	} else {
		logger.Info("serving", "playground", "http://"+ln.Addr().String()+"/", "graphql", "http://"+ln.Addr().String()+"/graphql")
	}
	return serveUntilDone(ctx, ln, a.web, cfg, logger)
}

// serveUntilDone serves on ln until ctx is done, then shuts down in order:
// /readyz turns 503, the listener closes, requests in flight finish (for
// up to the grace period), and only then does the caller close the pool.
func serveUntilDone(ctx context.Context, ln net.Listener, web *httpserver.Server, cfg config, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           web,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      cfg.requestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing requests in flight", "grace", cfg.shutdownGrace)
	web.Drain()
	// Load balancers stop sending requests once they see /readyz fail;
	// until then, new requests are still served.
	time.Sleep(cfg.drainDelay)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}
