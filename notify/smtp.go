package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

// SMTPSender sends messages through an SMTP server: over TLS from the first
// byte (port 465, or ImplicitTLS), else with STARTTLS when the server
// offers it, and with PLAIN authentication when a user is set (net/smtp
// refuses to send the password over an unencrypted connection to another
// host).
type SMTPSender struct {
	Addr     string // host:port
	User     string
	Password string
	// From is the sender: an address, or a name and an address
	// ("Shop <no-reply@shop.example>"); see CheckFrom.
	From string
	// ImplicitTLS speaks TLS from the first byte, as port 465 always does.
	ImplicitTLS bool
	// TLSConfig, when set, replaces the default (verify the server's
	// certificate for the host of Addr).
	TLSConfig *tls.Config
	// AllowPlaintext sends to a server that offers no TLS. Without it,
	// mail, which carries reset and transfer tokens, goes in plaintext
	// only to a server on the loopback interface (a local relay).
	AllowPlaintext bool

	// remoteLoopback makes the loopback interface count as another host,
	// for tests.
	remoteLoopback bool
}

// CheckAddr checks Addr, so that a bad setting stops the server at start
// rather than failing every message until its token expires.
func (s SMTPSender) CheckAddr() error {
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("SMTP address %q: want host:port (587 for STARTTLS, 465 for TLS)", s.Addr)
	}
	return nil
}

// smtpTimeout bounds one delivery, so a stuck server delays the outbox,
// never blocks it.
const smtpTimeout = 30 * time.Second

// Send delivers m. The error wraps ErrRejected when the message cannot
// ever go out: the server refused its recipient or its content with a
// permanent reply, or an address holds a line break.
func (s SMTPSender) Send(ctx context.Context, m Message) error {
	// An address with a line break would let a recipient write headers of
	// their own (a Bcc, say); nothing valid has one.
	if strings.ContainsAny(m.To, "\r\n") {
		return fmt.Errorf("%w: the address holds a line break", ErrRejected)
	}
	from, err := s.CheckFrom()
	if err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("SMTP address %q: %w", s.Addr, err)
	}
	tlsConfig := s.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{ServerName: host}
	}
	dialer := net.Dialer{Timeout: 10 * time.Second}
	conn, err := dialer.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	// The deadline bounds a stuck server; cancelling ctx (at shutdown)
	// ends the conversation at once.
	if err := conn.SetDeadline(time.Now().Add(smtpTimeout)); err != nil {
		return err
	}
	raw := conn
	defer context.AfterFunc(ctx, func() { raw.Close() })()
	implicitTLS := s.ImplicitTLS || port == "465" || port == "smtps"
	if implicitTLS {
		conn = tls.Client(conn, tlsConfig)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return err
	}
	defer c.Close()
	if !implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConfig); err != nil {
				return err
			}
		} else if !s.AllowPlaintext && (s.remoteLoopback || !loopback(host)) {
			return fmt.Errorf("SMTP server %s offers no TLS; set SMTP_ALLOW_PLAINTEXT=true to send in plaintext", s.Addr)
		}
	}
	if s.User != "" {
		if err := c.Auth(smtp.PlainAuth("", s.User, s.Password, host)); err != nil {
			return err
		}
	}
	msg, err := compose(from, m, time.Now())
	if err != nil {
		return err
	}
	if err := c.Mail(from.Address); err != nil {
		return err
	}
	if err := c.Rcpt(m.To); err != nil {
		return rejected(err, true)
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return rejected(err, false)
	}
	return c.Quit()
}

// loopback reports whether host names this machine's loopback interface.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// rejected marks as ErrRejected a reply that refuses the recipient or the
// message itself for good: with an enhanced status code (RFC 3463), 5.1.x
// (no such mailbox or domain) or 5.6.x (content refused); without one, 550,
// 551 or 553 to RCPT. Any other 5xx, such as 5.7.x (relaying or
// authentication refused) or 552 (mailbox full, which RFC 5321 says to treat
// as temporary), is the service's configuration or passing, and is retried.
func rejected(err error, rcpt bool) error {
	var reply *textproto.Error
	if !errors.As(err, &reply) || reply.Code < 500 || reply.Code == 552 {
		return err
	}
	permanent := false
	if class, _, ok := strings.Cut(reply.Msg, " "); ok && strings.HasPrefix(class, "5.") {
		permanent = strings.HasPrefix(class, "5.1.") || strings.HasPrefix(class, "5.6.")
	} else {
		permanent = rcpt && (reply.Code == 550 || reply.Code == 551 || reply.Code == 553)
	}
	if permanent {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return err
}

// CheckFrom parses From, so that a bad setting stops the server at start
// rather than every message later.
func (s SMTPSender) CheckFrom() (*mail.Address, error) {
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		return nil, fmt.Errorf("SMTP sender %q: %w", s.From, err)
	}
	return from, nil
}

// compose writes m as an RFC 5322 message. The body is quoted-printable so
// that non-ASCII text and long lines pass servers without 8BITMIME, and the
// subject and the sender's name are encoded words when they are not ASCII.
func compose(from *mail.Address, m Message, now time.Time) ([]byte, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	domain := from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	// In text mode the writer ends every line, whatever its break, with CRLF.
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(m.Body + "\n")); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
