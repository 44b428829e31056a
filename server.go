// Command customerservice is the customer service of a commerce platform:
// Medusa's Customer domain as a GraphQL API on PostgreSQL.
//
//	customerservice [serve]          serve GraphQL at /graphql, the Playground at /
//	customerservice seed -customers N  load the reference benchmark dataset
//
// With no DATABASE_URL it runs its own PostgreSQL cluster in DATA_DIR. See
// README.md for every setting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/jmoiron/sqlx"

	"github.com/acme/customerservice/db"
	"github.com/acme/customerservice/db/localpg"
	"github.com/acme/customerservice/db/seed"
	"github.com/acme/customerservice/graph"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, os.Args[1:], logger); err != nil {
		logger.Error(err.Error())
		stop()
		os.Exit(1)
	}
}

// config is the service's settings, read from the environment.
type config struct {
	databaseURL   string
	dataDir       string
	addr          string
	demoCustomers int
}

func configFromEnv() (config, error) {
	c := config{
		databaseURL:   os.Getenv("DATABASE_URL"),
		dataDir:       envOr("DATA_DIR", ".data"),
		addr:          envOr("ADDR", "localhost:8080"),
		demoCustomers: 300,
	}
	if v := os.Getenv("DEMO_CUSTOMERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("DEMO_CUSTOMERS must be a number of customers, got %q", v)
		}
		c.demoCustomers = n
	}
	return c, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, logger *slog.Logger) error {
	cfg, err := configFromEnv()
	if err != nil {
		return err
	}
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, logger)
	case "seed":
		return seedCommand(ctx, cfg, args, logger)
	case "help", "-h", "-help", "--help":
		fmt.Println("usage: customerservice [serve | seed -customers N]")
		return nil
	}
	return fmt.Errorf("unknown command %q; use serve or seed", cmd)
}

// database is an open, migrated database, and what must be done to let it
// go.
type database struct {
	pool *sqlx.DB
	// fresh is true when this start created the database.
	fresh bool
	close func()
}

// openDatabase connects to DATABASE_URL, or starts the local cluster and
// creates its database, then applies the migrations.
func openDatabase(ctx context.Context, cfg config, logger *slog.Logger) (*database, error) {
	d := &database{close: func() {}}
	url := cfg.databaseURL
	if url == "" {
		cluster, err := localpg.Start(ctx, localpg.Options{
			Dir:  cfg.dataDir,
			Logf: func(format string, args ...any) { logger.Info(fmt.Sprintf(format, args...)) },
		})
		if err != nil {
			return nil, err
		}
		stopCluster := func() {
			if err := cluster.Stop(); err != nil {
				logger.Error("stop PostgreSQL", "error", err)
			}
		}
		if d.fresh, err = cluster.CreateDatabase(ctx, "customerservice"); err != nil {
			stopCluster()
			return nil, err
		}
		url = cluster.URL("customerservice")
		d.close = stopCluster
	}
	pool, err := db.Open(ctx, url)
	if err != nil {
		d.close()
		return nil, err
	}
	if err := db.Migrate(ctx, pool.DB); err != nil {
		pool.Close()
		d.close()
		return nil, err
	}
	d.pool = pool
	closeCluster := d.close
	d.close = func() { pool.Close(); closeCluster() }
	return d, nil
}

func serve(ctx context.Context, cfg config, logger *slog.Logger) error {
	d, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer d.close()
	if d.fresh && cfg.demoCustomers > 0 {
		if err := seed.Load(ctx, d.pool, cfg.demoCustomers, time.Now(), nil); err != nil {
			return fmt.Errorf("load demo data: %w", err)
		}
		logger.Info("loaded demo data", "customers", cfg.demoCustomers)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /{$}", playground.Handler("Customer service", "/graphql"))
	mux.Handle("/graphql", graph.NewHandler(d.pool, graph.Options{Logger: logger}))
	srv := &http.Server{
		Addr:              cfg.addr,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("serving", "playground", "http://"+cfg.addr+"/", "graphql", "http://"+cfg.addr+"/graphql")

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func seedCommand(ctx context.Context, cfg config, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	n := fs.Int("customers", 10_000, "number of customers to load")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer d.close()
	start := time.Now()
	err = seed.Load(ctx, d.pool, *n, start, func(done, total int) {
		fmt.Fprintf(os.Stderr, "\rseeding: %d/%d customers", done, total)
	})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	logger.Info("seeded", "customers", *n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
