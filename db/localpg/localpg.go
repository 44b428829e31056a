// Package localpg runs a private PostgreSQL server from the machine's
// PostgreSQL binaries, so that the service and its tests need nothing but
// those binaries: no running database, no configuration.
//
// The server listens on a free loopback port only, with no Unix socket, and
// requires a password generated at first start and kept beside the cluster.
// PostgreSQL refuses to run as root, so when this process is root the server
// runs as an unprivileged user ("postgres" when it exists, else "nobody").
package localpg

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lib/pq"
)

// ErrNoBinaries is returned when no PostgreSQL server binaries are found.
var ErrNoBinaries = errors.New(`no PostgreSQL server binaries were found (initdb and postgres, looked for on PATH and in /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, /usr/local/pgsql/bin and /opt/homebrew/bin). ` +
	`Install them, for example with "apt-get install postgresql postgresql-contrib" on Debian or Ubuntu, ` +
	`"dnf install postgresql-server postgresql-contrib" on Fedora or "brew install postgresql" on macOS, ` +
	`or set DATABASE_URL to use a PostgreSQL server you already run`)

// Options configure a cluster.
type Options struct {
	// Dir holds the cluster, its password and its log. It is created when
	// missing; an existing cluster in it is reused.
	Dir string
	// Ephemeral trades durability for speed (no fsync), for throwaway test
	// clusters.
	Ephemeral bool
	// Port is the TCP port to listen on; a free one when 0.
	Port int
	// BinDir, when set, is the only folder searched for initdb and
	// postgres.
	BinDir string
	// Logf, when set, reports what the launcher does.
	Logf func(format string, args ...any)
	// StandbyOf, when set, makes a new cluster a streaming replica of that
	// running one (a hot standby, read-only), copied from it with
	// pg_basebackup instead of initialized.
	StandbyOf *Cluster
}

// Cluster is a running PostgreSQL server started by Start.
type Cluster struct {
	port     int
	password string
	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
	logPath  string
}

// superuser is the cluster's superuser role.
const superuser = "postgres"

// Start initializes the cluster in opts.Dir when it does not exist yet,
// starts the server and waits until it accepts connections. Stop stops it;
// should this process die first, the kernel's parent-death signal does.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	bin, err := findBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	runAs, err := serverUser()
	if err != nil {
		return nil, err
	}
	pgdata := filepath.Join(dir, "pgdata")
	if runAs != nil && !reachable(dir, runAs) {
		// The server's user cannot reach a folder under, say, /root: keep
		// the cluster where it can, one per data folder.
		pgdata = filepath.Join("/var/lib/customerservice", shortHash(dir), "pgdata")
		logf("PostgreSQL runs as user %s, who cannot reach %s; the cluster lives in %s", runAs.name, dir, pgdata)
		if err := os.MkdirAll(filepath.Dir(pgdata), 0o755); err != nil {
			return nil, fmt.Errorf("create cluster folder: %w", err)
		}
	}
	c := &Cluster{logPath: filepath.Join(dir, "postgres.log"), exited: make(chan struct{})}
	if opts.StandbyOf != nil {
		// The copy has the primary's roles, and so its password.
		if err := os.WriteFile(filepath.Join(dir, "postgres.password"), []byte(opts.StandbyOf.password+"\n"), 0o600); err != nil {
			return nil, err
		}
	}
	if c.password, err = readOrCreatePassword(filepath.Join(dir, "postgres.password")); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(pgdata, "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		if opts.StandbyOf != nil {
			logf("copying the cluster on port %d to %s, as its standby", opts.StandbyOf.port, pgdata)
			err = copyCluster(ctx, bin, pgdata, opts.StandbyOf, runAs)
		} else {
			logf("initializing a PostgreSQL cluster in %s", pgdata)
			err = initCluster(ctx, bin, pgdata, c.password, runAs)
		}
		if err != nil {
			return nil, err
		}
	}
	c.port = opts.Port
	if c.port == 0 {
		if c.port, err = freePort(); err != nil {
			return nil, err
		}
	}
	if err := c.start(bin, pgdata, runAs, opts.Ephemeral); err != nil {
		return nil, err
	}
	if err := c.waitReady(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	logf("PostgreSQL is running on 127.0.0.1:%d (log: %s)", c.port, c.logPath)
	return c, nil
}

// URL returns the connection URL of the named database as the superuser.
func (c *Cluster) URL(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, c.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// PID is the process id of the cluster's postmaster, whose children are
// its other processes: fault tests stop and resume them.
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

// Password returns the superuser's password.
func (c *Cluster) Password() string { return c.password }

// Superuser returns the name of the superuser role.
func (c *Cluster) Superuser() string { return superuser }

// CreateDatabase creates the named database unless it exists, and reports
// whether it did.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (created bool, err error) {
	conn, err := sql.Open("postgres", c.URL("postgres"))
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return false, fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return false, nil
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		return false, fmt.Errorf("create database %s: %w", name, err)
	}
	return true, nil
}

// Stop shuts the server down ("fast" mode: open sessions are rolled back)
// and waits for it to exit.
func (c *Cluster) Stop() error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
		return nil
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return errors.New("PostgreSQL did not stop within 30s and was killed")
	}
}

type binaries struct{ initdb, postgres string }

func findBinaries(only string) (binaries, error) {
	dirs := []string{only}
	if only == "" {
		dirs = searchPath()
	}
	for _, d := range dirs {
		b := binaries{initdb: filepath.Join(d, "initdb"), postgres: filepath.Join(d, "postgres")}
		if isExecutable(b.initdb) && isExecutable(b.postgres) {
			return b, nil
		}
	}
	return binaries{}, ErrNoBinaries
}

// searchPath lists where PostgreSQL's binaries are installed: PATH first,
// then the usual package folders, newest major version first.
func searchPath() []string {
	dirs := []string{}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(initdb))
	}
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"} {
		matches, _ := filepath.Glob(pattern)
		slices.SortFunc(matches, func(a, b string) int { return versionOf(b) - versionOf(a) })
		dirs = append(dirs, matches...)
	}
	return append(dirs, "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin")
}

func versionOf(dir string) int {
	for _, part := range strings.Split(dir, string(filepath.Separator)) {
		if n, err := strconv.Atoi(strings.TrimPrefix(part, "pgsql-")); err == nil {
			return n
		}
	}
	return 0
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode().Perm()&0o111 != 0
}

// osUser is the unprivileged account the server runs as when this process
// is root.
type osUser struct {
	name     string
	uid, gid uint32
}

func serverUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &osUser{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
		}
	}
	return nil, errors.New("running as root, but there is no unprivileged user (postgres or nobody) to run PostgreSQL as; create one or run as another user")
}

// reachable reports whether u may enter dir, that is search every folder
// from the root down to it.
func reachable(dir string, u *osUser) bool {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		perm := fi.Mode().Perm()
		var canSearch bool
		switch {
		case st.Uid == u.uid:
			canSearch = perm&0o100 != 0
		case st.Gid == u.gid:
			canSearch = perm&0o010 != 0
		default:
			canSearch = perm&0o001 != 0
		}
		if !canSearch {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

func readOrCreatePassword(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read cluster password: %w", err)
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save cluster password: %w", err)
	}
	return pw, nil
}

func initCluster(ctx context.Context, bin binaries, pgdata, password string, runAs *osUser) error {
	if err := os.MkdirAll(pgdata, 0o700); err != nil {
		return fmt.Errorf("create cluster folder: %w", err)
	}
	// initdb reads the superuser's password from a file that only the
	// server's user can read and that goes away once initdb has run.
	pwfile := filepath.Join(filepath.Dir(pgdata), "initdb.pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if runAs != nil {
		for _, p := range []string{pgdata, pwfile} {
			if err := os.Chown(p, int(runAs.uid), int(runAs.gid)); err != nil {
				return fmt.Errorf("give %s to user %s: %w", p, runAs.name, err)
			}
		}
	}
	cmd := exec.CommandContext(ctx, bin.initdb, "-D", pgdata, "-U", superuser,
		"--pwfile="+pwfile, "--auth=scram-sha-256", "--encoding=UTF8", "--no-locale")
	cmd.SysProcAttr = sysProcAttr(runAs)
	cmd.Dir = pgdata
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb failed: %w\n%s", err, out)
	}
	return nil
}

// copyCluster copies the running primary into pgdata with pg_basebackup,
// streaming the WAL written meanwhile, and configures the copy to follow
// it (-R: standby.signal and primary_conninfo).
func copyCluster(ctx context.Context, bin binaries, pgdata string, primary *Cluster, runAs *osUser) error {
	if err := os.MkdirAll(pgdata, 0o700); err != nil {
		return err
	}
	if runAs != nil {
		if err := os.Chown(pgdata, int(runAs.uid), int(runAs.gid)); err != nil {
			return fmt.Errorf("give %s to user %s: %w", pgdata, runAs.name, err)
		}
	}
	conninfo := fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s", primary.port, superuser, primary.password)
	// Beside initdb, where the server's version keeps it (PATH may hold a
	// link to initdb only).
	initdb, err := filepath.EvalSymlinks(bin.initdb)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(filepath.Dir(initdb), "pg_basebackup"),
		"-D", pgdata, "-d", conninfo, "-X", "stream", "-R", "--checkpoint=fast")
	cmd.SysProcAttr = sysProcAttr(runAs)
	cmd.Dir = pgdata
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_basebackup failed: %w\n%s", err, out)
	}
	return nil
}

func sysProcAttr(runAs *osUser) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		// Its own process group: Ctrl-C in a terminal reaches only this
		// process, which then stops the server in order.
		Setpgid: true,
		// If this process dies without stopping the server, the kernel
		// stops it (fast shutdown).
		Pdeathsig: syscall.SIGINT,
	}
	if runAs != nil {
		attr.Credential = &syscall.Credential{Uid: runAs.uid, Gid: runAs.gid}
	}
	return attr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (c *Cluster) start(bin binaries, pgdata string, runAs *osUser, ephemeral bool) error {
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open PostgreSQL log: %w", err)
	}
	args := []string{"-D", pgdata, "-p", strconv.Itoa(c.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=200",
	}
	if ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	c.cmd = exec.Command(bin.postgres, args...)
	c.cmd.Dir = pgdata
	c.cmd.Stdout = logFile
	c.cmd.Stderr = logFile
	c.cmd.SysProcAttr = sysProcAttr(runAs)
	if err := c.cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	go func() {
		c.exitErr = c.cmd.Wait()
		logFile.Close()
		close(c.exited)
	}()
	return nil
}

func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	conn, err := sql.Open("postgres", c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close()
	for {
		pingCtx, cancelPing := context.WithTimeout(ctx, time.Second)
		err := conn.PingContext(pingCtx)
		cancelPing()
		if err == nil {
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("PostgreSQL exited at start (%v); the end of %s says:\n%s", c.exitErr, c.logPath, c.logTail())
		case <-ctx.Done():
			return fmt.Errorf("PostgreSQL did not accept connections in time: %w; the end of %s says:\n%s", err, c.logPath, c.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func shortHash(s string) string {
	h := fnv.New64a()
	h.Write([]byte(s))
	return strconv.FormatUint(h.Sum64(), 36)
}
