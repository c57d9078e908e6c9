package source

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// EnvPassword is the environment variable that [Endpoint.LoadPassword]
// reads a password from when neither the URL nor a file gives one, as
// redis-cli does.
const EnvPassword = "REDISCLI_AUTH"

// DefaultPort is the port of a redis:// or rediss:// URL that names none.
const DefaultPort = 6379

// redacted replaces a password in printed URLs.
const redacted = "xxxxx"

// maxPasswordFile bounds the size of a password file.
const maxPasswordFile = 64 << 10

// An Endpoint is a live Redis server and the credentials to use with it.
//
// Its String and GoString methods return [Endpoint.Redacted], so that
// printing an Endpoint with any fmt verb never shows the password.
type Endpoint struct {
	Network  string // "tcp" or "unix"
	Addr     string // "host:port", or the path of a unix socket
	TLS      bool   // rediss://: connect with TLS
	User     string // ACL user name; "" for the default user
	Password string // "" for none
	DB       int    // database number from the URL (path or ?db=), 0 if none
}

// ParseEndpoint parses a URL naming a server:
//
//	redis://[[user]:password@]host[:port][/db]
//	rediss://[[user]:password@]host[:port][/db]   (TLS)
//	unix://[[user]:password@]/path/to/socket[?db=N]
//	host[:port]                                    (as redis://)
//
// As with redis-cli, user information without a colon is a password
// ("redis://secret@host"), and "user:@" names a user whose password comes
// from a file or the environment (see LoadPassword). User and password are
// percent-decoded. The port defaults to 6379 and the host to 127.0.0.1.
// The only query parameter is db. Errors never contain the password.
func ParseEndpoint(s string) (Endpoint, error) {
	raw := s
	if !strings.Contains(s, "://") {
		s = "redis://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Error quotes the whole input, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Endpoint{}, fmt.Errorf("source: bad URL %s: %v", redactRaw(raw), err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("source: bad URL %s: %s", redactRaw(raw), fmt.Sprintf(format, args...))
	}
	var ep Endpoint
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			ep.User, ep.Password = u.User.Username(), p
		} else {
			ep.Password = u.User.Username() // redis-cli: "secret@host" is a password
		}
	}
	if u.Fragment != "" || u.Opaque != "" {
		return Endpoint{}, bad("unexpected %q", "#"+u.Fragment+u.Opaque)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Endpoint{}, bad("query: %v", err)
	}
	for k := range q {
		if k != "db" {
			return Endpoint{}, bad("unknown parameter %q (only db is known)", k)
		}
	}
	dbText := q.Get("db")
	switch strings.ToLower(u.Scheme) {
	case "redis", "rediss":
		ep.Network = "tcp"
		ep.TLS = strings.EqualFold(u.Scheme, "rediss")
		host, port := u.Hostname(), u.Port()
		if host == "" {
			host = "127.0.0.1"
		}
		if port == "" {
			port = strconv.Itoa(DefaultPort)
		} else if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return Endpoint{}, bad("bad port %q", port)
		}
		ep.Addr = net.JoinHostPort(host, port)
		if p := strings.TrimPrefix(u.Path, "/"); p != "" {
			if dbText != "" {
				return Endpoint{}, bad("database given twice")
			}
			dbText = p
		}
	case "unix":
		ep.Network = "unix"
		if u.Host != "" {
			return Endpoint{}, bad("a unix socket URL has no host: unix:///path/to/socket")
		}
		if u.Path == "" {
			return Endpoint{}, bad("no socket path")
		}
		ep.Addr = u.Path
	default:
		return Endpoint{}, bad("unknown scheme %q (want redis, rediss or unix)", u.Scheme)
	}
	if dbText != "" {
		n, err := strconv.Atoi(dbText)
		if err != nil || n < 0 {
			return Endpoint{}, bad("bad database number %q", dbText)
		}
		ep.DB = n
	}
	return ep, nil
}

// redactRaw hides the user information of a URL that could not be parsed.
func redactRaw(s string) string {
	i := strings.Index(s, "://")
	rest, scheme := s, ""
	if i >= 0 {
		scheme, rest = s[:i+3], s[i+3:]
	}
	if j := strings.LastIndex(rest, "@"); j >= 0 {
		return strconv.Quote(scheme + redacted + rest[j:])
	}
	return strconv.Quote(s)
}

// Redacted returns ep as a URL with the password replaced by "xxxxx".
func (ep Endpoint) Redacted() string {
	var b strings.Builder
	switch {
	case ep.Network == "unix":
		b.WriteString("unix://")
	case ep.TLS:
		b.WriteString("rediss://")
	default:
		b.WriteString("redis://")
	}
	if ep.User != "" || ep.Password != "" {
		b.WriteString(url.PathEscape(ep.User))
		if ep.Password != "" {
			b.WriteString(":" + redacted)
		} else {
			b.WriteString(":")
		}
		b.WriteString("@")
	}
	b.WriteString(ep.Addr)
	if ep.DB != 0 {
		if ep.Network == "unix" {
			b.WriteString("?db=" + strconv.Itoa(ep.DB))
		} else {
			b.WriteString("/" + strconv.Itoa(ep.DB))
		}
	}
	return b.String()
}

// String returns ep.Redacted().
func (ep Endpoint) String() string { return ep.Redacted() }

// GoString returns ep.Redacted(), for %#v.
func (ep Endpoint) GoString() string { return ep.Redacted() }

// LoadPassword sets ep.Password when the URL did not give one: from file if
// it is not "" (its content, less one trailing newline), otherwise from the
// environment variable env (EnvPassword for redis-cli's REDISCLI_AUTH) if
// env is not "" and the variable is set. A password both in the URL and in
// a file is an error, as is an empty or unreadable file. The errors never
// contain the password.
func (ep *Endpoint) LoadPassword(file, env string) error {
	if file != "" {
		if ep.Password != "" {
			return errors.New("source: a password is given both in the URL and in a file")
		}
		p, err := readPasswordFile(file)
		if err != nil {
			return err
		}
		ep.Password = p
		return nil
	}
	if ep.Password == "" && env != "" {
		ep.Password = os.Getenv(env)
	}
	return nil
}

func readPasswordFile(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("source: password file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPasswordFile+1))
	if err != nil {
		return "", fmt.Errorf("source: password file %s: %w", name, err)
	}
	if len(b) > maxPasswordFile {
		return "", fmt.Errorf("source: password file %s: larger than %d bytes", name, maxPasswordFile)
	}
	p := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if p == "" {
		return "", fmt.Errorf("source: password file %s is empty", name)
	}
	return p, nil
}

// TLSFiles names the files of a TLS connection, as redis-cli's --cacert,
// --cert and --key.
type TLSFiles struct {
	CA       string // PEM certificates of the authorities to trust; "": the system's
	Cert     string // PEM client certificate, for servers with tls-auth-clients
	Key      string // PEM private key of Cert
	Insecure bool   // do not verify the server's certificate
}

// Config returns a TLS configuration with the files loaded. The server name
// is left empty: dialing fills it in from the address.
func (f TLSFiles) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.Insecure}
	if f.CA != "" {
		pem, err := os.ReadFile(f.CA)
		if err != nil {
			return nil, fmt.Errorf("source: TLS CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("source: TLS CA %s: no PEM certificate in it", f.CA)
		}
		cfg.RootCAs = pool
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, errors.New("source: a TLS client certificate needs both a certificate and a key file")
	}
	if f.Cert != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("source: TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// IsZero reports whether f names no file and does not disable verification.
func (f TLSFiles) IsZero() bool { return f == TLSFiles{} }
