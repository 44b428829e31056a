package main

// customerservice baseline: the headline query without GraphQL, for the
// benchmarks' honest ratio.

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"customerservice/bench"
)

// baselineCommand serves what serve serves, except that the headline query
// (bench's) is answered by bench.Baseline: the same statements and JSON
// without GraphQL. The load driver then measures both the same way.
func baselineCommand(ctx context.Context, cfg config, logger *slog.Logger) error {
	a, err := newApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.close()
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	check := func(ctx context.Context, authorization string) error {
		_, _, _, err := a.auth.Authenticate(ctx, authorization)
		return err
	}
	srv := &http.Server{Handler: bench.Baseline(a.db.pool, check, a.web), ReadHeaderTimeout: 5 * time.Second}
	logger.Info("serving the headline without GraphQL", "graphql", "http://"+ln.Addr().String()+"/graphql")
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
