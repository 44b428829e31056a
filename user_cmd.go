package main

// customerservice user create: admin users from the command line.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

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
