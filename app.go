package main

// The service's wiring: the database (DATABASE_URL or the local cluster),
// the account flows and webhooks, the background jobs (the outbox's and
// the webhooks' dispatchers among them) and the HTTP surface, put together
// once for serve and the tests, and taken apart in the reverse order.

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"customerservice/auth"
	"customerservice/bulk"
	"customerservice/db"
	"customerservice/db/localpg"
	"customerservice/graph"
	"customerservice/httpserver"
	"customerservice/lifecycle"
	"customerservice/live"
	"customerservice/notify"
	"customerservice/observe"
	"customerservice/webhooks"
)

// database is an open, migrated database, and what must be done to let it
// go.
type database struct {
	pool *sqlx.DB
	// url is where the pool connects, for the event listener's connection
	// of its own.
	url string
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
	// Migrations and the event listener need a session of their own; a
	// transaction pooler does not keep one (DATABASE_DIRECT_URL).
	direct := url
	if cfg.databaseDirectURL != "" {
		direct = cfg.databaseDirectURL
	}
	if err := migrateAt(ctx, direct); err != nil {
		d.close()
		return nil, err
	}
	pool, err := db.OpenWith(ctx, url, db.Options{TransactionPooler: cfg.transactionPooler})
	if err != nil {
		d.close()
		return nil, err
	}
	db.SetPoolSize(pool, cfg.maxConns)
	probe, err := db.OpenProbe(url)
	if err != nil {
		pool.Close()
		d.close()
		return nil, err
	}
	d.pool, d.probe, d.url = pool, probe, direct
	closeCluster := d.close
	d.close = func() { probe.Close(); pool.Close(); closeCluster() }
	return d, nil
}

// migrateAt applies the migrations over a connection of their own to the
// database at url.
func migrateAt(ctx context.Context, url string) error {
	conn, err := db.Open(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close()
	db.SetPoolSize(conn, 1)
	return db.Migrate(ctx, conn.DB)
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

// tokenSecret is TOKEN_SECRET or, without one, a secret generated once in
// the data folder.
func tokenSecret(cfg config) ([]byte, error) {
	if cfg.tokenSecret != "" {
		return []byte(cfg.tokenSecret), nil
	}
	return auth.LoadOrCreateSecret(filepath.Join(cfg.dataDir, "token.secret"))
}

// authService returns the account flows on pool, signing tokens with the
// token secret.
func authService(cfg config, pool *sqlx.DB) (*auth.Service, error) {
	secret, err := tokenSecret(cfg)
	if err != nil {
		return nil, err
	}
	tokens, err := auth.NewTokens(secret, cfg.tokenTTL)
	if err != nil {
		return nil, fmt.Errorf("TOKEN_SECRET: %w", err)
	}
	hasher, err := auth.NewHasher()
	if err != nil {
		return nil, err
	}
	return &auth.Service{DB: pool, Hasher: hasher, Tokens: tokens, RefreshTTL: cfg.refreshTTL}, nil
}

// app is the running service without its listener: the database, the
// background jobs and the HTTP surface.
type app struct {
	db    *database
	auth  *auth.Service
	hub   *live.Hub
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
	tracing, stopTracing, err := observe.NewTracing(ctx, cfg.otlpEndpoint)
	if err != nil {
		d.close()
		return nil, err
	}
	if pw, err := os.ReadFile(filepath.Join(cfg.dataDir, "admin.password")); err == nil {
		logger.Info("demo logins: use the login mutation", "admin_user", demoAdmin, "customer", demoCustomer, "password", strings.TrimSpace(string(pw)))
	}

	// Webhook secrets are sealed under a key derived from the token
	// secret, which every server shares.
	secret, err := tokenSecret(cfg)
	if err != nil {
		d.close()
		return nil, err
	}
	sealer, err := webhooks.NewSealer(secret)
	if err != nil {
		d.close()
		return nil, err
	}
	links, err := bulk.NewLinks(secret, 0)
	if err != nil {
		d.close()
		return nil, err
	}
	// Imports run in the background; at close they stop between batches
	// and a run of the same file resumes them.
	imports := &bulk.Service{DB: d.pool, Links: links, Logger: logger}
	guard := &webhooks.Guard{AllowPrivate: cfg.webhookAllowPrivate}
	hooks := &webhooks.Service{DB: d.pool, Sealer: sealer, Guard: guard, RequireHTTPS: cfg.production}

	var sender notify.Sender = notify.LogSender{Logger: logger}
	if cfg.smtp.Addr != "" {
		sender = cfg.smtp
	}
	background, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var jobs sync.WaitGroup
	jobs.Go(func() { (&notify.Dispatcher{DB: d.pool, Sender: sender, Logger: logger}).Run(background) })
	jobs.Go(func() {
		(&webhooks.Dispatcher{DB: d.pool, Sealer: sealer, Guard: guard, Logger: logger}).Run(background)
	})
	jobs.Go(func() { svc.RunResetRequests(background, time.Second, logger) })
	// A zero grace is due at once: the service's own zero means "the default".
	grace := cfg.deletionGrace
	if grace == 0 {
		grace = -1
	}
	accounts := &lifecycle.Service{DB: d.pool, Grace: grace}
	jobs.Go(func() { accounts.RunDeletions(background, time.Minute, logger) })
	jobs.Go(func() {
		every(background, logger, time.Hour, "purge idempotency keys", func(ctx context.Context) error {
			return db.PurgeIdempotencyKeys(ctx, d.pool)
		})
	})
	jobs.Go(func() {
		every(background, logger, time.Hour, "purge login throttle", func(ctx context.Context) error {
			return db.PurgeLoginThrottle(ctx, d.pool, svc.Policy())
		})
	})
	jobs.Go(func() {
		every(background, logger, time.Hour, "purge sessions", func(ctx context.Context) error {
			_, err := db.PurgeSessions(ctx, d.pool, auth.SessionRetention)
			return err
		})
	})
	// A search's cost follows how far the counts lag behind the customers.
	// Counts another server made within the hour (or a restart's) stand,
	// unless the customers have doubled or halved since: the check is
	// cheap, and runs often so that searches are fast soon after an
	// import.
	jobs.Go(func() {
		every(background, logger, 5*time.Minute, "refresh search trigrams", func(ctx context.Context) error {
			_, err := db.RefreshSearchTrigrams(ctx, d.pool, 55*time.Minute)
			return err
		})
	})
	// Rule groups relative to now (WITHIN_LAST, OLDER_THAN) change with
	// time alone. Every server runs it; the groups' advisory lock and
	// refresh times make one of them do each group's work. A config made
	// without the settings (tests) has no interval: the default.
	rulesRefresh := cmp.Or(cfg.rulesRefresh, 15*time.Minute)
	jobs.Go(func() {
		every(background, logger, rulesRefresh/4, "refresh group rules", func(ctx context.Context) error {
			n, err := db.RefreshGroupRules(ctx, d.pool, rulesRefresh)
			if n > 0 {
				logger.Info("refreshed group rules", "groups", n)
			}
			return err
		})
	})
	// The subscriptions' events: one listening connection per server.
	// When it stops, it closes the WebSocket connections.
	registry := prometheus.NewRegistry()
	sockets := graph.DefaultSocketLimits()
	sockets.PerActor = cmp.Or(cfg.sockets.PerActor, sockets.PerActor)
	sockets.PerConnection = cmp.Or(cfg.sockets.PerConnection, sockets.PerConnection)
	hub := live.NewHub(live.Options{DB: d.pool, DSN: d.url, Logger: logger, Registry: registry})
	jobs.Go(func() { hub.Run(background) })
	var replicas *db.Replicas
	if len(cfg.replicaURLs) > 0 {
		if replicas, err = db.OpenReplicas(d.pool, cfg.replicaURLs, cfg.maxConns, logger); err != nil {
			stopBackground()
			jobs.Wait()
			d.close()
			return nil, err
		}
		jobs.Go(func() { replicas.Run(background, replicaPoll) })
	}

	web := httpserver.New(httpserver.Config{
		DB:    d.pool,
		Probe: d.probe,
		GraphQL: graph.NewHandler(d.pool, graph.Options{
			Auth: svc, Webhooks: hooks, Lifecycle: accounts, Logger: logger, Production: cfg.production, TrustedDocuments: cfg.trustedDocuments, Hub: hub,
			Sockets: sockets, OnSockets: cfg.roomForSockets, Replicas: replicas, Bulk: imports, MaxUpload: cfg.importMaxBytes,
		}),
		Replicas:       replicas,
		MaxUpload:      cfg.importMaxBytes,
		Exports:        imports.ExportHandler(),
		Logger:         logger,
		Registry:       registry,
		PublicMetrics:  !cfg.production && cfg.metricsAddr == "",
		Production:     cfg.production,
		SchemaSDL:      graph.SDL(),
		Tracing:        tracing,
		RequestTimeout: cfg.requestTimeout,
		CORSOrigins:    cfg.corsOrigins,
		TrustedProxies: cfg.trustedProxies,
	})
	return &app{db: d, auth: svc, hub: hub, web: web, close: func() {
		stopBackground()
		jobs.Wait()
		imports.Close()
		// The last spans go out before the pool closes.
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			logger.Warn("flush traces", "error", err)
		}
		if replicas != nil {
			replicas.Close()
		}
		d.close()
	}}, nil
}

// replicaPoll is how often each replica's replay position is read: a read
// presenting a token newer than that goes to the primary meanwhile.
const replicaPoll = 50 * time.Millisecond

// every runs job at once and then every interval until ctx ends, and
// logs its failures: the housekeeping every server does (purges that
// several servers may run alike, the search trigrams' counts, the rule
// groups relative to now).
func every(ctx context.Context, logger *slog.Logger, interval time.Duration, name string, job func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := job(ctx); err != nil && ctx.Err() == nil {
			logger.Warn(name, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
