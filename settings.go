package main

// The settings: every environment variable the server reads is one entry
// of the settings table, with its default, its check and its meaning. From
// the table come the config, `customerservice help`, the start-up log line
// and README.md's Settings table (settings_test.go fails when they differ).

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"customerservice/auth"
	"customerservice/db"
	"customerservice/graph"
	"customerservice/httpserver"
	"customerservice/notify"
)

// config is the service's settings, as loadConfig reads them from the
// environment.
type config struct {
	databaseURL string
	// databaseDirectURL reaches PostgreSQL without a transaction pooler;
	// transactionPooler is set when databaseURL goes through one.
	databaseDirectURL string
	transactionPooler bool
	// replicaURLs are streaming replicas that serve reads.
	replicaURLs   []string
	dataDir       string
	addr          string
	demoCustomers int
	tokenSecret   string
	tokenTTL      time.Duration
	refreshTTL    time.Duration
	// deletionGrace is how long a confirmed account deletion waits.
	deletionGrace time.Duration
	// rulesRefresh is how often rule groups relative to now are
	// materialized again.
	rulesRefresh time.Duration
	smtp         notify.SMTPSender
	production   bool
	// requestTimeout bounds a request; shutdownGrace bounds the wait for
	// requests in flight at shutdown.
	requestTimeout time.Duration
	shutdownGrace  time.Duration
	// drainDelay is how long /readyz fails before the listener closes.
	drainDelay time.Duration
	maxConns   int
	// importMaxBytes bounds an import file uploaded to import_customers.
	importMaxBytes int64
	// sockets bound the WebSocket connections of subscriptions.
	sockets graph.SocketLimits
	// corsOrigins may call the API from a browser.
	corsOrigins []string
	// metricsAddr is the listener of /metrics; without one, a local server
	// serves them beside the API and a production server not at all.
	metricsAddr string
	// trustedProxies may tell the client's address in X-Forwarded-For.
	trustedProxies []netip.Prefix
	// webhookAllowPrivate lets webhook endpoints be on any address.
	webhookAllowPrivate bool
	// otlpEndpoint, when set, is where spans are exported over OTLP/HTTP.
	otlpEndpoint string
	// trustedDocuments, from PERSISTED_OPERATIONS, are the only documents
	// the server runs, by id; nil runs any.
	trustedDocuments map[string]string
	pprofAddr        string
	// gcPercent and memoryLimit are the collector's settings (tuneGC).
	gcPercent   int
	memoryLimit int64
}

// setting is one environment variable of the settings table.
type setting struct {
	name string
	// def is the value of an unset or empty variable; parse checks it as
	// it checks a value given.
	def string
	// shownDefault, in Markdown, says what an unset variable means where
	// def cannot: a generated secret, a default that depends on another
	// setting.
	shownDefault string
	// help is the meaning, in Markdown, for README.md and the help.
	help string
	// parse checks v and stores it in c. Settings are parsed in the
	// table's order, so parse may read the settings above its own. Its
	// errors need not name the variable: loadConfig does.
	parse func(c *config, v string) error
	// mask hides the secrets of a value in the start-up log.
	mask func(v string) string
	// show is the value the start-up log shows, when it is not the
	// variable's (a default that depends on another setting).
	show func(c config) string
}

// settings is the table. Its order is the order of the help, the log
// line and README.md.
var settings = []setting{
	{
		name: "DATABASE_URL",
		help: "PostgreSQL to use, as `postgres://user:password@host:port/db?sslmode=...`. Unset: the server runs its own cluster in `DATA_DIR`. The role needs to create the `pg_trgm` extension (it is trusted: the database owner can).",
		parse: func(c *config, v string) error {
			c.databaseURL = v
			return checkDatabaseURL(v)
		},
		mask: maskDatabaseURL,
	},
	{
		name: "DATABASE_DIRECT_URL",
		help: "A connection string that reaches PostgreSQL itself (or a pooler in session mode), for what a transaction pooler cannot carry: the migrations, which hold a session's advisory lock, and the event listener's `LISTEN`. Unset: `DATABASE_URL`.",
		parse: func(c *config, v string) error {
			c.databaseDirectURL = v
			return checkDatabaseURL(v)
		},
		mask: maskDatabaseURL,
	},
	{
		name: "DATABASE_REPLICA_URLS",
		help: "Comma-separated connection strings of PostgreSQL streaming replicas (hot standbys of `DATABASE_URL`). Queries go to one that has replayed the writes their client has seen (the `X-Consistency-Token` an answer to a write carries, sent back), else to the primary; mutations always go to the primary. A replica that does not answer is left out, its reads served by the primary. Unset: every statement goes to the primary.",
		parse: func(c *config, v string) error {
			c.replicaURLs = nil
			for _, u := range strings.Split(v, ",") {
				if u = strings.TrimSpace(u); u == "" {
					continue
				}
				if err := checkDatabaseURL(u); err != nil {
					return err
				}
				c.replicaURLs = append(c.replicaURLs, u)
			}
			return nil
		},
		mask: maskDatabaseURL,
	},
	{
		name: "DATABASE_POOLER", def: "none",
		help: "`transaction` when `DATABASE_URL` goes through a connection pooler in transaction mode (PgBouncer's `pool_mode = transaction`): statements are then not kept prepared, and each is sent in one round trip. Needs `DATABASE_DIRECT_URL`. `none`: the server talks to PostgreSQL, or to a pooler in session mode.",
		parse: func(c *config, v string) error {
			switch v {
			case "none":
			case "transaction":
				if c.databaseURL == "" || c.databaseDirectURL == "" {
					return errors.New("transaction needs DATABASE_URL (the pooler) and DATABASE_DIRECT_URL (PostgreSQL, for migrations and LISTEN)")
				}
				c.transactionPooler = true
			default:
				return fmt.Errorf("%q is neither none nor transaction", v)
			}
			return nil
		},
	},
	{
		name: "DATA_DIR", def: ".data",
		help:  "Where the local cluster lives (`pgdata/`), with its generated password and its log (`postgres.log`). When the server runs as root and the `postgres` user cannot enter this folder (say, under `/root`), the cluster itself goes to `/var/lib/customerservice/<hash>/`.",
		parse: func(c *config, v string) error { c.dataDir = v; return nil },
	},
	{
		name: "ADDR", def: "localhost:8080",
		help: "Address the HTTP server listens on.",
		parse: func(c *config, v string) error {
			c.addr = v
			return checkListenAddr(v)
		},
	},
	{
		name: "DEMO_CUSTOMERS", def: "300",
		help: "Customers of the demo data loaded when the local database is created; `0` loads none (and no demo logins).",
		parse: func(c *config, v string) (err error) {
			c.demoCustomers, err = parseCount(v, 0)
			return err
		},
	},
	{
		name: "TOKEN_SECRET", shownDefault: "generated",
		help: "Secret that signs tokens (HS256), at least 32 bytes. Unset: a random one is generated once and kept in `DATA_DIR/token.secret`. Set it in production, the same on every server.",
		parse: func(c *config, v string) error {
			c.tokenSecret = v
			if v == "" {
				return nil
			}
			_, err := auth.NewTokens([]byte(v), time.Hour)
			return err
		},
		mask: maskSecret,
	},
	{
		name: "ACCESS_TOKEN_TTL", def: "15m",
		help: "How long an access token is valid (a Go duration); a client gets the next one with its session's refresh token (`refresh_token`). Before sessions this was `TOKEN_TTL`, of 24h.",
		parse: func(c *config, v string) (err error) {
			c.tokenTTL, err = parseDuration(v, time.Nanosecond)
			return err
		},
	},
	{
		name: "REFRESH_TOKEN_TTL", def: "720h",
		help: "How long a session's refresh token can be used (a Go duration); each refresh starts it again, so a session lapses after this long unused.",
		parse: func(c *config, v string) (err error) {
			c.refreshTTL, err = parseDuration(v, time.Nanosecond)
			return err
		},
	},
	{
		name: "ACCOUNT_DELETION_GRACE", def: "168h",
		help: "How long a confirmed account deletion (`confirm_account_deletion`) waits before the customer is anonymized, a Go duration; `cancel_account_deletion` cancels it meanwhile. `0s` carries it out at the background job's next round (within a minute).",
		parse: func(c *config, v string) (err error) {
			c.deletionGrace, err = parseDuration(v, 0)
			return err
		},
	},
	{
		name: "GROUP_RULES_REFRESH", def: "15m",
		help: "How often rule-based groups whose rules are relative to now (`WITHIN_LAST`, `OLDER_THAN`) are evaluated again, a Go duration of at least `1m`; such a group lags the clock by at most this and a quarter more. Changes to customers, addresses and orders apply at once. Each refresh pauses customer writes while it runs (see [Segments](#segments-rule-based-customer-groups)).",
		parse: func(c *config, v string) (err error) {
			if c.rulesRefresh, err = parseDuration(v, time.Nanosecond); err == nil && c.rulesRefresh < time.Minute {
				err = fmt.Errorf("must be at least 1m, got %q", v)
			}
			return err
		},
	},
	{
		name: "SMTP_ADDR",
		help: "`host:port` of the SMTP server that sends the outbox's mail, checked at start: TLS from the start on port 465, STARTTLS on others, the certificate checked either way; a server that offers no TLS gets mail only on the loopback interface (a local relay) or with `SMTP_ALLOW_PLAINTEXT`. Unset: mail is written to the log.",
		parse: func(c *config, v string) error {
			c.smtp.Addr = v
			if v == "" {
				return nil
			}
			return c.smtp.CheckAddr()
		},
	},
	{
		name: "SMTP_ALLOW_PLAINTEXT", def: "false",
		help: "`true` sends mail in plaintext to a server on another host that offers no TLS.",
		parse: func(c *config, v string) (err error) {
			c.smtp.AllowPlaintext, err = parseBool(v)
			return err
		},
	},
	{
		name:  "SMTP_USER",
		help:  "SMTP user name (PLAIN auth), when the server needs credentials.",
		parse: func(c *config, v string) error { c.smtp.User = v; return nil },
	},
	{
		name:  "SMTP_PASSWORD",
		help:  "SMTP password of `SMTP_USER`.",
		parse: func(c *config, v string) error { c.smtp.Password = v; return nil },
		mask:  maskSecret,
	},
	{
		name: "SMTP_FROM", def: "no-reply@localhost",
		help: "Sender of the mail: an address, or a name and an address (`Shop <no-reply@shop.example>`); checked at start.",
		parse: func(c *config, v string) error {
			c.smtp.From = v
			_, err := c.smtp.CheckFrom()
			return err
		},
	},
	{
		name: "PRODUCTION", def: "false",
		help: "`true` turns off introspection (`INTROSPECTION_DISABLED`), the Playground, \"did you mean\" suggestions and `/metrics` beside the API, and writes JSON logs; the server then refuses to start without `TOKEN_SECRET` and `SMTP_ADDR`, so that tokens are never signed with a secret of one server's own or written to the log.",
		parse: func(c *config, v string) (err error) {
			c.production, err = parseBool(v)
			return err
		},
	},
	{
		name: "REQUEST_TIMEOUT", def: httpserver.DefaultRequestTimeout.String(),
		help: "Deadline of a request; when it passes, its SQL is canceled and the client is answered `TIMEOUT` (within 0.1 s, even when the database answers nothing).",
		parse: func(c *config, v string) (err error) {
			c.requestTimeout, err = parseDuration(v, time.Nanosecond)
			return err
		},
	},
	{
		name: "SHUTDOWN_DELAY", def: "0s",
		help: "On SIGTERM, how long `/readyz` answers 503 before the listener closes, so load balancers stop sending requests (5s is usual behind one).",
		parse: func(c *config, v string) (err error) {
			c.drainDelay, err = parseDuration(v, 0)
			return err
		},
	},
	{
		name: "SHUTDOWN_GRACE", def: "20s",
		help: "On SIGTERM, how long requests in flight may take to finish before the server stops anyway.",
		parse: func(c *config, v string) (err error) {
			c.shutdownGrace, err = parseDuration(v, 0)
			return err
		},
	},
	{
		name: "DB_MAX_CONNS", def: strconv.Itoa(db.DefaultMaxConns),
		help: "Connections in the pool.",
		parse: func(c *config, v string) (err error) {
			c.maxConns, err = parseCount(v, 1)
			return err
		},
	},
	{
		name: "IMPORT_MAX_BYTES", def: strconv.Itoa(graph.DefaultMaxUpload),
		help: "Largest import file `import_customers` takes, in bytes (1 GiB by default, about five million customers with an address each as CSV). The upload is streamed to a temporary file, never held in memory; a larger one is refused with `PAYLOAD_TOO_LARGE` (413) from its Content-Length, before it is read.",
		parse: func(c *config, v string) (err error) {
			n, err := parseCount(v, 1024)
			c.importMaxBytes = int64(n)
			return err
		},
	},
	{
		name: "WEBSOCKETS_PER_ACCOUNT", def: strconv.Itoa(graph.DefaultSocketLimits().PerActor),
		help: "WebSocket connections (for subscriptions) one account, an admin user or a customer, may hold open on a server; one more is closed with 4429.",
		parse: func(c *config, v string) (err error) {
			c.sockets.PerActor, err = parseCount(v, 1)
			return err
		},
	},
	{
		name: "SUBSCRIPTIONS_PER_WEBSOCKET", def: strconv.Itoa(graph.DefaultSocketLimits().PerConnection),
		help: "Subscriptions one WebSocket connection may run at once; one more is refused with `RATE_LIMITED`.",
		parse: func(c *config, v string) (err error) {
			c.sockets.PerConnection, err = parseCount(v, 1)
			return err
		},
	},
	{
		name: "CORS_ORIGINS", shownDefault: "`*` locally, none in production",
		help: "Browser origins allowed to call `/graphql`, comma-separated (`https://shop.example,https://admin.example`), or `*`. Tokens travel in the `Authorization` header, never cookies, so no credentials are allowed.",
		parse: func(c *config, v string) error {
			c.corsOrigins = nil
			for _, o := range strings.Split(v, ",") {
				if o = strings.TrimSpace(o); o != "" {
					c.corsOrigins = append(c.corsOrigins, o)
				}
			}
			// Locally any origin may call, so that a storefront on
			// another port works out of the box; in production only the
			// ones named.
			if c.corsOrigins == nil && !c.production {
				c.corsOrigins = []string{"*"}
			}
			return nil
		},
		show: func(c config) string { return strings.Join(c.corsOrigins, ",") },
	},
	{
		name: "WEBHOOK_ALLOW_PRIVATE", shownDefault: "`true` locally, `false` in production",
		help: "`false` refuses webhook endpoints whose host is, or resolves to, a loopback, private, link-local (such as a cloud's metadata service, 169.254.169.254), CGNAT, multicast or other non-public address: when an endpoint is created or changed, and again at every delivery, against the addresses the connection then goes to (see \"Webhooks: what they reach and who can sign\" in README.md). `true` lets endpoints be anywhere, for receivers on a developer's machine; in production, only when every address the server can reach may be an admin's to call.",
		parse: func(c *config, v string) (err error) {
			if v == "" {
				// Locally, receivers run on the developer's machine;
				// in production, the server's network is not the
				// admins' to call.
				c.webhookAllowPrivate = !c.production
				return nil
			}
			c.webhookAllowPrivate, err = parseBool(v)
			return err
		},
		show: func(c config) string { return strconv.FormatBool(c.webhookAllowPrivate) },
	},
	{
		name: "TRUSTED_PROXIES",
		help: "Comma-separated CIDR prefixes (or addresses) of the load balancers and proxies in front of the server. Only a request whose TCP peer is one of them is believed about its client: the client is then the right-most address of `X-Forwarded-For` that is not a trusted proxy. Login throttling counts attempts by that address, so leave it empty unless a proxy that sets `X-Forwarded-For` is always in front.",
		parse: func(c *config, v string) (err error) {
			c.trustedProxies, err = httpserver.ParseTrustedProxies(v)
			return err
		},
	},
	{
		name: "PERSISTED_OPERATIONS",
		help: "A persisted-operations manifest (a JSON file in Apollo's `apollo-persisted-query-manifest` format or Relay's `{\"id\": \"document\"}`): the server then runs only the manifest's operations, sent by id (`extensions.persistedQuery.sha256Hash`, or Relay's `doc_id`) or by their exact text, and refuses any other with `PERSISTED_QUERY_NOT_IN_LIST`. For production, where no document an attacker writes then reaches the parser. Unset: any operation runs, and clients may persist their queries automatically (Apollo's protocol).",
		parse: func(c *config, v string) error {
			if v == "" {
				return nil
			}
			data, err := os.ReadFile(v)
			if err != nil {
				return err
			}
			c.trustedDocuments, err = graph.ParseManifest(data)
			if err != nil {
				return fmt.Errorf("%s: %w", v, err)
			}
			return nil
		},
	},
	{
		name: "OTEL_EXPORTER_OTLP_ENDPOINT",
		help: "OpenTelemetry's standard setting: when set (`http://collector:4318`), the server exports a span for each HTTP request (a child of the caller's W3C `traceparent`), GraphQL operation (named by its operation name) and SQL statement (its text, whose values are placeholders) over OTLP/HTTP, configured by the other standard `OTEL_*` variables (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME`, ...). Unset: no span is recorded, and an incoming `traceparent` still puts its trace id in the request's log line.",
		parse: func(c *config, v string) error {
			c.otlpEndpoint = v
			if v == "" {
				return nil
			}
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("must be an http:// or https:// URL, got %q", v)
			}
			return nil
		},
	},
	{
		name: "METRICS_ADDR",
		help: "Serves the Prometheus metrics (`/metrics`) on this address, a listener of its own. Unset: a local server serves them beside the API, a production one not at all.",
		parse: func(c *config, v string) error {
			c.metricsAddr = v
			return checkOptionalListenAddr(v)
		},
	},
	{
		name: "PPROF_ADDR",
		help: "Serves Go's profiles (`/debug/pprof/`) on this address, a listener of its own; keep it private.",
		parse: func(c *config, v string) error {
			c.pprofAddr = v
			return checkOptionalListenAddr(v)
		},
	},
	// The collector's defaults suit a request-heavy server with a small
	// live heap (about 6 MiB): collecting at 7x the live heap rather than
	// 2x cuts the CPU the collector takes by more than half (profiles
	// showed it near 20%; GOGC 600 serves the headline query 12% faster
	// than 400, for 46-51 MB resident instead of 40), and the soft memory
	// limit makes it collect early rather than let the process grow past
	// 44 MiB. At 48 MiB the server reached 58 MB resident under load, the
	// binary's pages coming on top; 44 MiB measured the same throughput at
	// 44-49 MB.
	{
		name: "GOGC", def: "600",
		help: "The collector's target: a new cycle starts when the heap has grown by this percentage since the last, or never with `off`. The default suits a server with a small live heap (see BENCHMARKS.md).",
		parse: func(c *config, v string) (err error) {
			c.gcPercent, err = parseGCPercent(v)
			return err
		},
	},
	{
		name: "GOMEMLIMIT", def: "44MiB",
		help: "The collector's soft memory limit, in bytes or with a unit (`B`, `KiB`, `MiB`, `GiB`, `TiB`), or `off`: past it, the collector runs more often to stay under. Each open WebSocket (subscriptions) raises it by 40 KiB, the memory the connection holds.",
		parse: func(c *config, v string) (err error) {
			c.memoryLimit, err = parseMemoryLimit(v)
			return err
		},
	},
}

// loadConfig reads every setting of the table with getenv. It reports
// every bad value, each prefixed with its variable, rather than the first,
// so that one start says all that needs fixing; the config it returns
// holds the good values even then (run's logger reads PRODUCTION).
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var bad []string
	for _, s := range settings {
		if err := s.parse(&c, s.value(getenv)); err != nil {
			bad = append(bad, s.name+": "+err.Error())
		}
	}
	// A renamed setting is refused, not ignored: a deployment that still
	// sets it would otherwise get another value than it asks for.
	if getenv("TOKEN_TTL") != "" {
		bad = append(bad, "TOKEN_TTL: renamed ACCESS_TOKEN_TTL (15m by default) when sessions came; set that, and REFRESH_TOKEN_TTL for how long a session lasts unused")
	}
	if bad != nil {
		// One line, so that a log collector keeps the messages together.
		return c, errors.New(strings.Join(bad, "; "))
	}
	return c, nil
}

// value is the setting's variable, or its default when it is unset or
// empty: an empty variable is as good as none, so that VAR= in a unit file
// or a compose file restores the default.
func (s setting) value(getenv func(string) string) string {
	if v := getenv(s.name); v != "" {
		return v
	}
	return s.def
}

// tuneGC applies GOGC and GOMEMLIMIT. The runtime has read them already
// when they are set, so this changes the collector only when they are not.
func (c config) tuneGC() {
	debug.SetGCPercent(c.gcPercent)
	debug.SetMemoryLimit(c.memoryLimit)
}

// socketMemory is what the collector's soft limit makes room for per open
// WebSocket: a connection with a subscription holds about 60 KiB that it
// cannot free (four goroutines' stacks, the connection's buffers, the
// operation), and a thousand of them are more than GOMEMLIMIT's default
// allows the whole heap. Without the room the collector would run without
// pause, its assists delaying every event; 40 KiB each keeps a thousand
// subscribers' server under 100 MB resident (BENCHMARKS.md).
const socketMemory = 40 << 10

// roomForSockets raises the soft memory limit by socketMemory for each of
// open WebSockets, when a limit is set (the server's default).
func (c config) roomForSockets(open int) {
	if c.memoryLimit <= 0 || c.memoryLimit == math.MaxInt64 {
		return
	}
	debug.SetMemoryLimit(c.memoryLimit + int64(open)*socketMemory)
}

// logSettings logs the value of every setting, or its default, with its
// secrets masked, so that a server's log says how it was configured.
func logSettings(logger *slog.Logger, getenv func(string) string, c config) {
	attrs := make([]any, 0, len(settings))
	for _, s := range settings {
		v := s.value(getenv)
		switch {
		case s.show != nil:
			v = s.show(c)
		case s.mask != nil:
			v = s.mask(v)
		}
		attrs = append(attrs, slog.String(s.name, v))
	}
	logger.Info("settings", attrs...)
}

// defaultText is the setting's default as README.md shows it.
func (s setting) defaultText() string {
	switch {
	case s.shownDefault != "":
		return s.shownDefault
	case s.def == "":
		return "none"
	default:
		return "`" + s.def + "`"
	}
}

// printSettings writes the settings table for a terminal.
func printSettings(w io.Writer) {
	plain := strings.NewReplacer("`", "")
	for _, s := range settings {
		fmt.Fprintf(w, "  %s (default: %s)\n", s.name, plain.Replace(s.defaultText()))
		for _, line := range wrap(plain.Replace(s.help), 72) {
			fmt.Fprintf(w, "      %s\n", line)
		}
	}
}

// wrap breaks text into lines of at most width characters, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// parseBool reads a true/false setting.
func parseBool(v string) (bool, error) {
	switch v {
	case "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, fmt.Errorf("must be true or false, got %q", v)
}

// parseDuration reads a Go duration no shorter than least.
func parseDuration(v string, least time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return 0, fmt.Errorf("must be a duration such as 10s, got %q", v)
	case d < least && least > 0:
		return 0, fmt.Errorf("must be longer than 0, got %q", v)
	case d < least:
		return 0, fmt.Errorf("must not be negative, got %q", v)
	}
	return d, nil
}

// parseCount reads a whole number no smaller than least.
func parseCount(v string, least int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		return 0, fmt.Errorf("must be a whole number of %d or more, got %q", least, v)
	}
	return n, nil
}

// parseGCPercent reads GOGC as the runtime does, but refuses what it would
// silently take for 100.
func parseGCPercent(v string) (int, error) {
	if v == "off" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("must be a percentage (0 or more) or off, got %q", v)
	}
	return n, nil
}

// memoryLimitSyntax is the runtime's syntax for GOMEMLIMIT.
var memoryLimitSyntax = regexp.MustCompile(`^([0-9]+)((?:[KMGT]i)?B)?$`)

// parseMemoryLimit reads GOMEMLIMIT as the runtime does; the runtime
// itself stops a process with a malformed one before main.
func parseMemoryLimit(v string) (int64, error) {
	if v == "off" {
		return math.MaxInt64, nil
	}
	bad := fmt.Errorf("must be a number of bytes, with a unit B, KiB, MiB, GiB or TiB or none, or off, got %q", v)
	m := memoryLimitSyntax.FindStringSubmatch(v)
	if m == nil {
		return 0, bad
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, bad
	}
	shift := map[string]uint{"": 0, "B": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40}[m[2]]
	if n > math.MaxInt64>>shift {
		return 0, bad
	}
	return n << shift, nil
}

// checkListenAddr checks a host:port to listen on; the host may be empty
// (every interface) and the port 0 (any free one).
func checkListenAddr(v string) error {
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		return fmt.Errorf("must be host:port or :port, got %q", v)
	}
	return nil
}

func checkOptionalListenAddr(v string) error {
	if v == "" {
		return nil
	}
	return checkListenAddr(v)
}

// checkDatabaseURL parses a connection string as the driver will, so that
// a typo stops the server before it starts a cluster or waits on a
// connection. The driver's message may quote the string: its password is
// masked.
func checkDatabaseURL(v string) error {
	if v == "" {
		return nil
	}
	if _, err := pq.NewConfig(v); err != nil {
		return errors.New(maskDatabaseURL(err.Error()))
	}
	return nil
}

// The places a connection string holds a password: the user information of
// a URL, a URL's password parameter, and a key=value string's password
// (quoted or not).
var (
	urlPassword   = regexp.MustCompile(`(://[^:/?#@\s]*:)[^/?#\s]*@`)
	paramPassword = regexp.MustCompile(`([?&]password=)[^&\s]*`)
	dsnPassword   = regexp.MustCompile(`(\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s'&]+)`)
)

// maskDatabaseURL replaces the passwords in s, a connection string or a
// message that quotes one, with ***.
func maskDatabaseURL(s string) string {
	s = urlPassword.ReplaceAllString(s, "${1}***@")
	s = paramPassword.ReplaceAllString(s, "${1}***")
	return dsnPassword.ReplaceAllString(s, "${1}***")
}

// maskSecret hides a secret but says whether there is one.
func maskSecret(v string) string {
	if v == "" {
		return ""
	}
	return "***"
}
