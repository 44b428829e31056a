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
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
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
