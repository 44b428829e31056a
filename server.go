// Command customerservice is the customer service of a commerce platform:
// Medusa's Customer domain as a GraphQL API on PostgreSQL.
//
//	customerservice [serve]                          serve GraphQL at /graphql, the Playground at /
//	customerservice seed -customers N                load the reference benchmark dataset
//	customerservice user create -email E -password-stdin  create an admin user
//	customerservice bench [-scenario S] [-c N] [-duration D]  drive a running server and measure
//	customerservice baseline                         serve the headline query without GraphQL, to measure against
//	customerservice import -file F [-dry-run] [-on-conflict M]  import customers from CSV or JSON Lines
//	customerservice export -format csv|jsonl -o F [filter flags]  export customers
//	customerservice help                             list the commands and every setting
//
// With no DATABASE_URL it runs its own PostgreSQL cluster in DATA_DIR. The
// settings are environment variables, declared in settings.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command of args with the settings getenv gives, and returns
// the process's exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "help", "-h", "-help", "--help":
		// Before the settings are read: help is how one fixes them.
		printHelp(stdout)
		return 0
	}
	cfg, err := loadConfig(getenv)
	logger := newLogger(stderr, cfg.production)
	if err != nil {
		logger.Error(err.Error())
		return 1
	}
	cfg.tuneGC()
	switch cmd {
	case "serve", "seed", "user", "baseline", "import", "export":
		// Not bench: it is a client, and the server it drives logs its own.
		logSettings(logger, getenv, cfg)
	}
	switch cmd {
	case "serve":
		err = serve(ctx, cfg, logger)
	case "seed":
		err = seedCommand(ctx, cfg, args, logger)
	case "user":
		err = userCommand(ctx, cfg, args, stdin, logger)
	case "bench":
		err = benchCommand(ctx, cfg, args)
	case "baseline":
		err = baselineCommand(ctx, cfg, logger)
	case "import":
		err = importCommand(ctx, cfg, args, stderr, logger)
	case "export":
		err = exportCommand(ctx, cfg, args, stderr, logger)
	default:
		err = fmt.Errorf("unknown command %q; use serve, seed, user, bench, baseline, import, export or help", cmd)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		// The flag set has printed the command's usage, as asked.
		return 0
	case err != nil:
		logger.Error(err.Error())
		return 1
	}
	return 0
}

// newLogger writes JSON lines in production, for log collectors, and
// text for people otherwise.
func newLogger(w io.Writer, production bool) *slog.Logger {
	if production {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// printHelp writes the commands and the settings.
func printHelp(w io.Writer) {
	fmt.Fprint(w, `usage: customerservice [serve | seed -customers N | user create -email E -password-stdin | bench [-scenario S] [-c N] [-duration D] | baseline | import -file F | export -o F]

Commands (each lists its flags with -h):
  serve         serve GraphQL at /graphql and the Playground at / (the default)
  seed          load the reference benchmark dataset (db/seed/DATASET.md) and
                the demo logins into an empty database
  user create   create an admin user, its password read from standard input
  bench         drive a running server with concurrent clients and measure
  baseline      serve as serve does, but answer bench's headline query without
                GraphQL (the same statements and JSON), to measure the server against
  import        import customers from a CSV or JSON Lines file (-file F
                [-dry-run] [-on-conflict SKIP|UPDATE|ERROR] [-create-groups])
  export        export customers to a file (-format csv|jsonl -o F, filter flags)
  help          this

Settings, from the environment:
`)
	printSettings(w)
	fmt.Fprint(w, "\ngo test reads one more, TEST_DATABASE_URL (see db/dbtest).\n")
}
