// Command customerservice is the customer service of a commerce platform:
// Medusa's Customer domain as a GraphQL API on PostgreSQL.
//
//	customerservice [serve]                          serve GraphQL at /graphql, the Playground at /
//	customerservice seed -customers N                load the reference benchmark dataset
//	customerservice user create -email E -password-stdin  create an admin user
//	customerservice bench [-scenario S] [-c N] [-duration D]  drive a running server and measure
//
// With no DATABASE_URL it runs its own PostgreSQL cluster in DATA_DIR. See
// README.md for every setting.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"customerservice/auth"
	"customerservice/bench"
	"customerservice/db"
	"customerservice/db/localpg"
	"customerservice/db/seed"
	"customerservice/graph"
	"customerservice/httpserver"
	"customerservice/notify"
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var logger *slog.Logger
	if v := os.Getenv("PRODUCTION"); v == "1" || v == "true" {
		logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	} else {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	err := run(ctx, os.Args[1:], logger)
	if errors.Is(err, flag.ErrHelp) {
		// The flag set has printed the subcommand's usage, as asked.
		return
	}
	if err != nil {
		logger.Error(err.Error())
		stop()
		os.Exit(1)
	}
}

// tuneGC sets the collector for a request-heavy server with a small live
// heap (about 6 MiB): collecting at 7x the live heap rather than 2x cuts the
// CPU the collector takes by more than half (profiles showed it near 20%;
// GOGC 600 serves the headline query 12% faster than 400, for 46-51 MB
// resident instead of 40), and the soft memory limit makes it collect early
// rather than let the process grow past 44 MiB. At 48 MiB the server reached
// 58 MB resident under load, the binary's pages coming on top; 44 MiB
// measured the same throughput at 44-49 MB. GOGC and GOMEMLIMIT override
// both.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(600)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(44 << 20)
	}
}

// config is the service's settings, read from the environment.
type config struct {
	databaseURL   string
	dataDir       string
	addr          string
	demoCustomers int
	tokenSecret   string
	tokenTTL      time.Duration
	smtp          notify.SMTPSender
	production    bool
	// requestTimeout bounds a request; shutdownGrace bounds the wait for
	// requests in flight at shutdown.
	requestTimeout time.Duration
	shutdownGrace  time.Duration
	// drainDelay is how long /readyz fails before the listener closes.
	drainDelay time.Duration
	maxConns   int
	// corsOrigins may call the API from a browser.
	corsOrigins []string
	// metricsAddr is the listener of /metrics; without one, a local server
	// serves them beside the API and a production server not at all.
	metricsAddr string
	// trustedProxies may tell the client's address in X-Forwarded-For.
	trustedProxies []netip.Prefix
}

func configFromEnv() (config, error) {
	c := config{
		databaseURL:   os.Getenv("DATABASE_URL"),
		dataDir:       envOr("DATA_DIR", ".data"),
		metricsAddr:   os.Getenv("METRICS_ADDR"),
		addr:          envOr("ADDR", "localhost:8080"),
		demoCustomers: 300,
		tokenSecret:   os.Getenv("TOKEN_SECRET"),
		tokenTTL:      24 * time.Hour,
		smtp: notify.SMTPSender{
			Addr:     os.Getenv("SMTP_ADDR"),
			User:     os.Getenv("SMTP_USER"),
			Password: os.Getenv("SMTP_PASSWORD"),
			From:     envOr("SMTP_FROM", "no-reply@localhost"),
		},
	}
	var err error
	if c.smtp.AllowPlaintext, err = envBool("SMTP_ALLOW_PLAINTEXT"); err != nil {
		return c, err
	}
	if _, err := c.smtp.CheckFrom(); err != nil {
		return c, fmt.Errorf("SMTP_FROM: %w", err)
	}
	if c.smtp.Addr != "" {
		if err := c.smtp.CheckAddr(); err != nil {
			return c, fmt.Errorf("SMTP_ADDR: %w", err)
		}
	}
	if c.tokenTTL, err = envDuration("TOKEN_TTL", 24*time.Hour); err != nil {
		return c, err
	}
	if c.requestTimeout, err = envDuration("REQUEST_TIMEOUT", httpserver.DefaultRequestTimeout); err != nil {
		return c, err
	}
	if c.shutdownGrace, err = envDuration("SHUTDOWN_GRACE", 20*time.Second); err != nil {
		return c, err
	}
	if c.drainDelay, err = envDuration("SHUTDOWN_DELAY", 0); err != nil {
		return c, err
	}
	if c.tokenTTL == 0 || c.requestTimeout == 0 {
		return c, errors.New("TOKEN_TTL and REQUEST_TIMEOUT must be longer than 0")
	}
	if c.production, err = envBool("PRODUCTION"); err != nil {
		return c, err
	}
	// Locally any origin may call, so a storefront on another port works
	// out of the box; in production only the ones named.
	switch v := os.Getenv("CORS_ORIGINS"); {
	case v != "":
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.corsOrigins = append(c.corsOrigins, o)
			}
		}
	case !c.production:
		c.corsOrigins = []string{"*"}
	}
	if c.trustedProxies, err = httpserver.ParseTrustedProxies(os.Getenv("TRUSTED_PROXIES")); err != nil {
		return c, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	c.maxConns = 20
	if v := os.Getenv("DB_MAX_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return c, fmt.Errorf("DB_MAX_CONNS must be a positive number, got %q", v)
		}
		c.maxConns = n
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

func envDuration(key string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s must be a duration such as 10s, got %q", key, v)
	}
	return d, nil
}

// envBool reads a true/false setting; unset is false.
func envBool(key string) (bool, error) {
	switch v := os.Getenv(key); v {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	default:
		return false, fmt.Errorf("%s must be true or false, got %q", key, v)
	}
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
	case "user":
		return userCommand(ctx, cfg, args, os.Stdin, logger)
	case "bench":
		return benchCommand(ctx, cfg, args)
	case "help", "-h", "-help", "--help":
		fmt.Println("usage: customerservice [serve | seed -customers N | user create -email E -password-stdin | bench [-scenario S] [-c N] [-duration D]]")
		return nil
	}
	return fmt.Errorf("unknown command %q; use serve, seed, user or bench", cmd)
}

// database is an open, migrated database, and what must be done to let it
// go.
type database struct {
	pool *sqlx.DB
	// probe is the readiness checks' connection.
	probe *sql.DB
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
	db.SetPoolSize(pool, cfg.maxConns)
	if err := db.Migrate(ctx, pool.DB); err != nil {
		pool.Close()
		d.close()
		return nil, err
	}
	probe, err := db.OpenProbe(url)
	if err != nil {
		pool.Close()
		d.close()
		return nil, err
	}
	d.pool, d.probe = pool, probe
	closeCluster := d.close
	d.close = func() { probe.Close(); pool.Close(); closeCluster() }
	return d, nil
}

// openWithAuth opens the database and the account flows on it, for the
// commands that act on accounts.
func openWithAuth(ctx context.Context, cfg config, logger *slog.Logger) (*database, *auth.Service, error) {
	d, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	svc, err := authService(cfg, d.pool)
	if err != nil {
		d.close()
		return nil, nil, err
	}
	return d, svc, nil
}

// authService returns the account flows on pool, signing tokens with
// TOKEN_SECRET or, without one, a secret generated once in the data folder.
func authService(cfg config, pool *sqlx.DB) (*auth.Service, error) {
	secret := []byte(cfg.tokenSecret)
	if cfg.tokenSecret == "" {
		var err error
		if secret, err = auth.LoadOrCreateSecret(filepath.Join(cfg.dataDir, "token.secret")); err != nil {
			return nil, err
		}
	}
	tokens, err := auth.NewTokens(secret, cfg.tokenTTL)
	if err != nil {
		return nil, fmt.Errorf("TOKEN_SECRET: %w", err)
	}
	hasher, err := auth.NewHasher()
	if err != nil {
		return nil, err
	}
	return &auth.Service{DB: pool, Hasher: hasher, Tokens: tokens}, nil
}

// app is the running service without its listener: the database, the
// background jobs and the HTTP surface.
type app struct {
	db    *database
	auth  *auth.Service
	web   *httpserver.Server
	close func()
}

func newApp(ctx context.Context, cfg config, logger *slog.Logger) (*app, error) {
	d, svc, err := openWithAuth(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if d.fresh && cfg.demoCustomers > 0 {
		if err := loadDataset(ctx, cfg, svc, cfg.demoCustomers, nil); err != nil {
			d.close()
			return nil, err
		}
		logger.Info("loaded demo data", "customers", cfg.demoCustomers)
	}
	if pw, err := os.ReadFile(filepath.Join(cfg.dataDir, "admin.password")); err == nil {
		logger.Info("demo logins: use the login mutation", "admin_user", demoAdmin, "customer", demoCustomer, "password", strings.TrimSpace(string(pw)))
	}

	var sender notify.Sender = notify.LogSender{Logger: logger}
	if cfg.smtp.Addr != "" {
		sender = cfg.smtp
	}
	background, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var jobs sync.WaitGroup
	jobs.Go(func() { (&notify.Dispatcher{DB: d.pool, Sender: sender, Logger: logger}).Run(background) })
	jobs.Go(func() { svc.RunResetRequests(background, time.Second, logger) })
	jobs.Go(func() { purgeIdempotencyKeys(background, d.pool, logger) })
	jobs.Go(func() { purgeLoginThrottle(background, d.pool, svc, logger) })

	web := httpserver.New(httpserver.Config{
		DB:    d.pool,
		Probe: d.probe,
		GraphQL: graph.NewHandler(d.pool, graph.Options{
			Auth: svc, Logger: logger, Production: cfg.production,
		}),
		Logger:         logger,
		Registry:       prometheus.NewRegistry(),
		PublicMetrics:  !cfg.production && cfg.metricsAddr == "",
		Production:     cfg.production,
		RequestTimeout: cfg.requestTimeout,
		CORSOrigins:    cfg.corsOrigins,
		TrustedProxies: cfg.trustedProxies,
	})
	return &app{db: d, auth: svc, web: web, close: func() {
		stopBackground()
		jobs.Wait()
		d.close()
	}}, nil
}

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
	if addr := os.Getenv("PPROF_ADDR"); addr != "" {
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

// purgeIdempotencyKeys deletes expired idempotency keys every hour.
func purgeIdempotencyKeys(ctx context.Context, pool *sqlx.DB, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := db.PurgeIdempotencyKeys(ctx, pool); err != nil && ctx.Err() == nil {
			logger.Warn("purge idempotency keys", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// purgeLoginThrottle deletes spent login throttling rows every hour.
func purgeLoginThrottle(ctx context.Context, pool *sqlx.DB, svc *auth.Service, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := db.PurgeLoginThrottle(ctx, pool, svc.Policy()); err != nil && ctx.Err() == nil {
			logger.Warn("purge login throttle", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// userCommand runs "user create": an admin user, whose password is read
// from standard input so it stays out of shell history and process lists.
func userCommand(ctx context.Context, cfg config, args []string, stdin io.Reader, logger *slog.Logger) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: customerservice user create -email E -password-stdin [-first-name F] [-last-name L]")
	}
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	email := fs.String("email", "", "the user's email, with which it logs in")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from standard input")
	first := fs.String("first-name", "", "first name")
	last := fs.String("last-name", "", "last name")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *email == "" || !*passwordStdin {
		return errors.New("user create needs -email and -password-stdin")
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	d, svc, err := openWithAuth(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer d.close()
	user, err := svc.CreateUser(ctx, *email, password, optional(*first), optional(*last))
	if err != nil {
		return err
	}
	logger.Info("created admin user", "id", user.ID, "email", user.Email)
	return nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func seedCommand(ctx context.Context, cfg config, args []string, logger *slog.Logger) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	n := fs.Int("customers", 10_000, "number of customers to load")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, svc, err := openWithAuth(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer d.close()
	start := time.Now()
	bar := seed.NewBar(os.Stderr, start)
	err = loadDataset(ctx, cfg, svc, *n, bar.Update)
	bar.Done()
	if err != nil {
		return err
	}
	logger.Info("seeded", "customers", *n, "took", time.Since(start).Round(time.Millisecond),
		"logins", demoAdmin+", "+demoCustomer, "password_file", filepath.Join(cfg.dataDir, "admin.password"))
	return nil
}

// benchCommand runs the load driver against a running server.
func benchCommand(ctx context.Context, cfg config, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	url := fs.String("url", "http://"+cfg.addr, "the server's base URL")
	scenarios := fs.String("scenario", "all", "a scenario, a comma-separated list, or all: "+strings.Join(bench.Scenarios(), ", "))
	concurrency := fs.Int("c", 4, "concurrent clients")
	duration := fs.Duration("duration", 10*time.Second, "how long each scenario runs")
	requests := fs.Int("n", 0, "stop each scenario after this many requests (0: by duration only)")
	email := fs.String("email", demoAdmin, "admin user to log in as")
	customerEmail := fs.String("customer-email", demoCustomer, "customer to log in as, for the me and mixed scenarios")
	password := fs.String("password", "", "password of both logins (default: DATA_DIR/admin.password)")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *password == "" {
		b, err := os.ReadFile(filepath.Join(cfg.dataDir, "admin.password"))
		if err != nil {
			return fmt.Errorf("no -password and no %s: %w", filepath.Join(cfg.dataDir, "admin.password"), err)
		}
		*password = strings.TrimSpace(string(b))
	}
	admin, err := bench.Login(ctx, *url, "USER", *email, *password)
	if err != nil {
		return err
	}
	customer, err := bench.Login(ctx, *url, "CUSTOMER", *customerEmail, *password)
	if err != nil {
		// No such login yet: a shopper of the run's own.
		if customer, err = bench.SignUp(ctx, *url, *customerEmail, *password); err != nil {
			return err
		}
	}
	names := bench.Scenarios()
	if *scenarios != "all" {
		names = strings.Split(*scenarios, ",")
	}
	var results []bench.Result
	for _, name := range names {
		r, err := bench.Run(ctx, bench.Config{URL: *url, Scenario: strings.TrimSpace(name), Concurrency: *concurrency,
			Duration: *duration, Requests: *requests, AdminToken: admin, CustomerToken: customer})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		results = append(results, r)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	bench.Print(os.Stdout, results)
	return nil
}
