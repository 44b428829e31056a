package notify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"customerservice/notify"
)

// smtpSession is what a test SMTP server received in one session.
type smtpSession struct {
	commands []string // every command line, DATA's content aside
	auth     string   // the decoded PLAIN response
	data     []byte   // the message, dot-unstuffed
}

// replies are what a test SMTP server answers to RCPT and to the end of
// DATA.
type replies struct{ rcpt, data string }

var accept = replies{"250 ok", "250 queued"}

// smtpServer speaks enough SMTP to receive one message on each connection
// (EHLO, optional STARTTLS and AUTH PLAIN, MAIL, RCPT, DATA, QUIT). The
// sessions arrive on the returned channel.
func smtpServer(t *testing.T, ln net.Listener, cert *tls.Certificate, r replies) <-chan smtpSession {
	t.Helper()
	sessions := make(chan smtpSession, 4)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				sessions <- serveSMTP(conn, cert, r)
			}()
		}
	}()
	return sessions
}

func serveSMTP(conn net.Conn, cert *tls.Certificate, r replies) smtpSession {
	var s smtpSession
	tc := textproto.NewConn(conn)
	tc.PrintfLine("220 test ESMTP")
	tlsDone := false
	if _, ok := conn.(*tls.Conn); ok {
		tlsDone = true
	}
	for {
		line, err := tc.ReadLine()
		if err != nil {
			return s
		}
		s.commands = append(s.commands, line)
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch verb {
		case "EHLO":
			if cert != nil && !tlsDone {
				tc.PrintfLine("250-test\r\n250-AUTH PLAIN\r\n250 STARTTLS")
			} else {
				tc.PrintfLine("250-test\r\n250 AUTH PLAIN")
			}
		case "STARTTLS":
			tc.PrintfLine("220 go ahead")
			tlsConn := tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{*cert}})
			if err := tlsConn.Handshake(); err != nil {
				return s
			}
			conn, tlsDone = tlsConn, true
			tc = textproto.NewConn(conn)
		case "AUTH":
			f := strings.Fields(line)
			if raw, err := base64.StdEncoding.DecodeString(f[len(f)-1]); err == nil {
				s.auth = string(raw)
			}
			tc.PrintfLine("235 ok")
		case "MAIL":
			tc.PrintfLine("250 ok")
		case "RCPT":
			tc.PrintfLine("%s", r.rcpt)
		case "DATA":
			tc.PrintfLine("354 go ahead")
			s.data, err = tc.ReadDotBytes()
			if err != nil {
				return s
			}
			tc.PrintfLine("%s", r.data)
		case "QUIT":
			tc.PrintfLine("221 bye")
			return s
		default:
			tc.PrintfLine("250 ok")
		}
	}
}

// selfSigned returns a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(parsed)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// readMessage parses a received message and decodes its body.
func readMessage(t *testing.T, data []byte) (*mail.Message, string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatalf("the message does not parse: %v\n%s", err, data)
	}
	if got := msg.Header.Get("Content-Transfer-Encoding"); got != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding = %q", got)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return msg, string(body)
}

func TestSMTPSenderDeliversOverSTARTTLS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	ln := listen(t)
	sessions := smtpServer(t, ln, cert, accept)
	sender := notify.SMTPSender{
		Addr: ln.Addr().String(), User: "mailer", Password: "s3cret", From: "Boutique Zoé <shop@example.com>",
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"},
	}
	// A line that starts with a dot must survive SMTP's end-of-data marker,
	// and UTF-8 must survive a server without 8BITMIME.
	body := "Bonjour Zoë,\n.\n.hidden line\nyour token: abc\n" + strings.Repeat("x", 200)
	err := sender.Send(context.Background(), notify.Message{To: "zoe@example.com", Subject: "Réinitialiser", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	s := <-sessions
	if !slices.Contains(s.commands, "STARTTLS") {
		t.Errorf("no STARTTLS in %q", s.commands)
	}
	if s.auth != "\x00mailer\x00s3cret" {
		t.Errorf("AUTH PLAIN sent %q", s.auth)
	}
	if !slices.Contains(s.commands, "MAIL FROM:<shop@example.com>") || !slices.Contains(s.commands, "RCPT TO:<zoe@example.com>") {
		t.Errorf("envelope: %q", s.commands)
	}
	for _, line := range strings.Split(string(s.data), "\n") {
		if len(line) > 78 {
			t.Errorf("line of %d characters: %q", len(line), line)
		}
	}
	msg, got := readMessage(t, s.data)
	// The test server reads the message as textproto does, CRLF as "\n".
	if want := body + "\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != "Réinitialiser" {
		t.Errorf("Subject = %q (%v)", subject, err)
	}
	from, err := msg.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "Boutique Zoé" || from[0].Address != "shop@example.com" {
		t.Errorf("From = %q (%v)", msg.Header.Get("From"), err)
	}
	if msg.Header.Get("To") != "zoe@example.com" {
		t.Errorf("To = %q", msg.Header.Get("To"))
	}
	if id := msg.Header.Get("Message-ID"); !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("Message-ID = %q", id)
	}
	if _, err := msg.Header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
}

func TestSMTPSenderSpeaksTLSFromTheStart(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	ln := tls.NewListener(listen(t), &tls.Config{Certificates: []tls.Certificate{*cert}})
	sessions := smtpServer(t, ln, nil, accept)
	sender := notify.SMTPSender{
		Addr: ln.Addr().String(), From: "shop@example.com", ImplicitTLS: true,
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"},
	}
	if err := sender.Send(context.Background(), notify.Message{To: "zoe@example.com", Subject: "s", Body: "b"}); err != nil {
		t.Fatal(err)
	}
	s := <-sessions
	if slices.Contains(s.commands, "STARTTLS") {
		t.Errorf("STARTTLS inside TLS: %q", s.commands)
	}
	if _, body := readMessage(t, s.data); body != "b\n" {
		t.Errorf("body = %q", body)
	}
}

func TestSMTPSenderChecksTheCertificate(t *testing.T) {
	t.Parallel()
	cert, _ := selfSigned(t)
	ln := listen(t)
	sessions := smtpServer(t, ln, cert, accept)
	// No RootCAs: the system's roots do not trust the test certificate, and
	// the password must not go to a server that cannot prove its name.
	sender := notify.SMTPSender{Addr: ln.Addr().String(), User: "mailer", Password: "s3cret", From: "shop@example.com"}
	if err := sender.Send(context.Background(), notify.Message{To: "zoe@example.com", Subject: "s", Body: "b"}); err == nil {
		t.Fatal("Send trusted an unknown certificate")
	}
	if s := <-sessions; s.auth != "" || s.data != nil {
		t.Errorf("the server received credentials %q or a message %q", s.auth, s.data)
	}
}

func TestSMTPSenderGivesUpOnlyWhatIsRefusedForGood(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		replies   replies
		permanent bool
	}{
		{replies{"550 5.1.1 no such user", "250 queued"}, true},
		{replies{"550 no such user", "250 queued"}, true},
		{replies{"250 ok", "554 5.6.0 content refused"}, true},
		// The service's configuration or a passing state: tried again.
		{replies{"550 5.7.1 relay access denied", "250 queued"}, false},
		{replies{"530 5.7.0 authentication required", "250 queued"}, false},
		{replies{"552 mailbox full", "250 queued"}, false},
		{replies{"452 4.2.2 mailbox full", "250 queued"}, false},
		{replies{"250 ok", "554 transaction failed"}, false},
	} {
		ln := listen(t)
		smtpServer(t, ln, nil, tt.replies)
		sender := notify.SMTPSender{Addr: ln.Addr().String(), From: "shop@example.com"}
		err := sender.Send(context.Background(), notify.Message{To: "gone@example.com", Subject: "s", Body: "b"})
		if err == nil || errors.Is(err, notify.ErrRejected) != tt.permanent {
			t.Errorf("%+v: Send = %v, want permanent %v", tt.replies, err, tt.permanent)
		}
	}
}

func TestSMTPSenderRefusesHeaderInjection(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	sessions := smtpServer(t, ln, nil, accept)
	sender := notify.SMTPSender{Addr: ln.Addr().String(), From: "shop@example.com"}
	err := sender.Send(context.Background(), notify.Message{To: "a@example.com\r\nBcc: b@example.com", Subject: "s", Body: "b"})
	if !errors.Is(err, notify.ErrRejected) {
		t.Fatalf("Send = %v, want ErrRejected for an address with a line break", err)
	}
	select {
	case s := <-sessions:
		t.Fatalf("the server was reached: %q", s.commands)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestSMTPSenderKeepsTokensOffPlaintextNetworks(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	sessions := smtpServer(t, ln, nil, accept)
	// A server without TLS, as if on another host.
	sender := notify.SMTPSender{Addr: ln.Addr().String(), From: "shop@example.com"}
	notify.TreatLoopbackAsRemote(&sender)
	m := notify.Message{To: "zoe@example.com", Subject: "s", Body: "token"}
	err := sender.Send(context.Background(), m)
	if err == nil || errors.Is(err, notify.ErrRejected) || !strings.Contains(err.Error(), "SMTP_ALLOW_PLAINTEXT") {
		t.Fatalf("Send = %v, want a refusal to send in plaintext, retried later", err)
	}
	if s := <-sessions; s.data != nil {
		t.Errorf("the message went out in plaintext: %q", s.data)
	}
	sender.AllowPlaintext = true
	if err := sender.Send(context.Background(), m); err != nil {
		t.Fatalf("with AllowPlaintext: %v", err)
	}
	if s := <-sessions; s.data == nil {
		t.Error("nothing was sent with AllowPlaintext")
	}
}

func TestSMTPSenderStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	ln := listen(t)
	t.Cleanup(func() { ln.Close() })
	// A server that greets and then says nothing more.
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.Write([]byte("220 test ESMTP\r\n"))
		io.Copy(io.Discard, conn)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	sender := notify.SMTPSender{Addr: ln.Addr().String(), From: "shop@example.com"}
	if err := sender.Send(ctx, notify.Message{To: "zoe@example.com", Subject: "s", Body: "b"}); err == nil {
		t.Fatal("Send succeeded against a silent server")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Send took %v after its context ended", took)
	}
}
